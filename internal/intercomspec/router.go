package intercomspec

import (
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// router matches request paths against the description's path templates.
//
// kin-openapi's own routers validate the whole document first, and Intercom's
// descriptions fail that check in schemas unrelated to tickets or tags (for
// example convert_conversation_to_ticket_request has an array without items).
// Matching ignores servers: the descriptions list only Intercom's hosts, while
// tests talk to loopback.
type router struct {
	doc    *openapi3.T
	routes []*routeTemplate
}

type routeTemplate struct {
	segments []string // "{name}" for a parameter
	literals int      // more literal segments wins (/tickets/search over /tickets/{id})
	route    *routers.Route
}

var _ routers.Router = (*router)(nil)

func newRouter(doc *openapi3.T) *router {
	r := &router{doc: doc}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			t := &routeTemplate{
				segments: strings.Split(strings.Trim(path, "/"), "/"),
				route: &routers.Route{
					Spec:      doc,
					Path:      path,
					PathItem:  item,
					Method:    method,
					Operation: op,
				},
			}
			for _, s := range t.segments {
				if !isParam(s) {
					t.literals++
				}
			}
			r.routes = append(r.routes, t)
		}
	}
	return r
}

func isParam(s string) bool { return strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") }

// FindRoute implements routers.Router.
func (r *router) FindRoute(req *http.Request) (*routers.Route, map[string]string, error) {
	segs := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	var best *routeTemplate
	var bestParams map[string]string
	pathSeen := false
	for _, t := range r.routes {
		params, ok := t.match(segs)
		if !ok {
			continue
		}
		pathSeen = true
		if t.route.Method != req.Method {
			continue
		}
		if best == nil || t.literals > best.literals {
			best, bestParams = t, params
		}
	}
	if best == nil {
		if pathSeen {
			return nil, nil, &routers.RouteError{Reason: routers.ErrMethodNotAllowed.Error()}
		}
		return nil, nil, &routers.RouteError{Reason: routers.ErrPathNotFound.Error()}
	}
	return best.route, bestParams, nil
}

func (t *routeTemplate) match(segs []string) (map[string]string, bool) {
	if len(segs) != len(t.segments) {
		return nil, false
	}
	params := map[string]string{}
	for i, s := range t.segments {
		if isParam(s) {
			if segs[i] == "" {
				return nil, false
			}
			params[s[1:len(s)-1]] = segs[i]
			continue
		}
		if s != segs[i] {
			return nil, false
		}
	}
	return params, true
}

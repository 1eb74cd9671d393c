package intercomspec

import (
	"bytes"
	"regexp"
	"strings"
)

// trimToGateway keeps, of a description's paths, only those the gateway fronts (tickets, ticket types
// and their attributes, ticket states, and tags on tickets, contacts, conversations and companies),
// and of its components only what those paths reach through $ref, transitively. Everything else
// (info, servers, security, tags) is kept as is.
//
// Why: the per-version tests load seven descriptions in each of several test binaries under -race,
// and parsing 1 to 1.5 MB of YAML dominates their cost; the gateway's part is a small fraction of it.
// Validation is unchanged, because a kept operation keeps every schema it can reach.
//
// It works on the text, by indentation, which the descriptions' layout makes exact: a path item is a
// key indented by 2 under `paths:`, a component by 4 under `components:` and its section (schemas,
// responses, ...). Block scalars are always indented deeper than their key, so no line of a
// description can look like one of those keys.
func trimToGateway(data []byte) []byte {
	lines := strings.SplitAfter(string(data), "\n")
	type block struct {
		head  string // the key line
		lines []string
	}
	var (
		out          strings.Builder
		section      string // current top-level key
		compSection  string // current components section
		paths        []block
		components   = map[string]*block{} // "schemas/name" → block
		compOrder    []string
		compSections []string
		tail         []string // top-level sections after components, kept as is
	)
	var cur *block
	for _, l := range lines {
		trimmed := strings.TrimRight(l, "\r\n")
		indent := len(trimmed) - len(strings.TrimLeft(trimmed, " "))
		if trimmed != "" && indent == 0 {
			section = strings.TrimSuffix(strings.Fields(trimmed)[0], ":")
			cur = nil
			if section != "paths" && section != "components" {
				// Sections before paths (openapi, info) are written now; those after components
				// (servers, security, tags) once the trimmed paths and components are written.
				if len(paths) > 0 || len(compOrder) > 0 {
					tail = append(tail, l)
				} else {
					out.WriteString(l)
				}
			}
			continue
		}
		switch section {
		case "paths":
			if trimmed != "" && indent == 2 {
				paths = append(paths, block{head: strings.Trim(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(trimmed), ":")), `"'`)})
				cur = &paths[len(paths)-1]
			}
			if cur != nil {
				cur.lines = append(cur.lines, l)
			}
		case "components":
			if trimmed != "" && indent == 2 {
				compSection = strings.TrimSuffix(strings.TrimSpace(trimmed), ":")
				compSections = append(compSections, compSection)
				cur = nil
				continue
			}
			if trimmed != "" && indent == 4 {
				key := compSection + "/" + strings.Trim(strings.TrimSuffix(strings.TrimSpace(trimmed), ":"), `"'`)
				components[key] = &block{head: key}
				compOrder = append(compOrder, key)
				cur = components[key]
			}
			if cur != nil {
				cur.lines = append(cur.lines, l)
			}
		default:
			if len(paths) > 0 || len(compOrder) > 0 {
				tail = append(tail, l)
			} else {
				out.WriteString(l)
			}
		}
	}

	keep := map[string]bool{}
	var queue []string
	visit := func(text string) {
		for _, m := range refPattern.FindAllStringSubmatch(text, -1) {
			key := m[1] + "/" + m[2]
			if !keep[key] {
				keep[key] = true
				queue = append(queue, key)
			}
		}
	}
	out.WriteString("paths:\n")
	for _, p := range paths {
		if !gatewayPath(p.head) {
			continue
		}
		text := strings.Join(p.lines, "")
		out.WriteString(text)
		visit(text)
	}
	for len(queue) > 0 {
		key := queue[0]
		queue = queue[1:]
		if b := components[key]; b != nil {
			visit(strings.Join(b.lines, ""))
		}
	}
	out.WriteString("components:\n")
	written := map[string]bool{}
	for _, sec := range compSections {
		if written[sec] {
			continue
		}
		written[sec] = true
		out.WriteString("  " + sec + ":\n")
		for _, key := range compOrder {
			// securitySchemes are named by the top-level `security`, not by $ref: keep them all.
			if strings.HasPrefix(key, sec+"/") && (keep[key] || sec == "securitySchemes") {
				out.WriteString(strings.Join(components[key].lines, ""))
			}
		}
	}
	out.WriteString(strings.Join(tail, ""))
	return []byte(out.String())
}

var refPattern = regexp.MustCompile(`["']?\$ref["']?:\s*["']#/components/([A-Za-z]+)/([^"'/\s]+)["']`)

// gatewayPath reports whether a path item is one the gateway calls (see upstream.Operations).
func gatewayPath(p string) bool {
	switch {
	case strings.HasPrefix(p, "/tickets"), strings.HasPrefix(p, "/ticket_types"), p == "/ticket_states",
		strings.HasPrefix(p, "/tags"):
		return true
	case strings.HasPrefix(p, "/contacts/{contact_id}/tags"), strings.HasPrefix(p, "/conversations/{conversation_id}/tags"):
		return true
	}
	return false
}

// isTrimmable reports whether data has the layout trimToGateway relies on.
func isTrimmable(data []byte) bool {
	return bytes.Contains(data, []byte("\npaths:\n")) && bytes.Contains(data, []byte("\ncomponents:\n"))
}

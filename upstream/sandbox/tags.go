package sandbox

import (
	"encoding/json"
	"net/http"
	"strings"
)

func (s *Server) tagByName(name string) *tag {
	return find(s.ws.tags, func(t *tag) bool { return equalFold(t.name, name) })
}

// listTags implements GET /tags: tag_list {type:"list", data:[tag]}, without
// applied_at/applied_by (see intercomspec.KnownSpecErrors).
func (s *Server) listTags(*call) (int, any, error) {
	out := make([]tagJSON, 0, len(s.ws.tags))
	for _, t := range s.ws.tags {
		out = append(out, renderTag(t))
	}
	return http.StatusOK, newList(out), nil
}

func (s *Server) findTag(c *call) (int, any, error) {
	t := s.ws.tag(c.r.PathValue("id"))
	if t == nil {
		return 0, nil, errNotFound("not_found", "Resource Not Found")
	}
	return http.StatusOK, renderTag(t), nil
}

// deleteTag implements DELETE /tags/{id}: 200 with no body (2.11.yaml
// deleteTag documents no content). The tag is removed from everything.
func (s *Server) deleteTag(c *call) (int, any, error) {
	id := c.r.PathValue("id")
	w := s.ws
	for i, t := range w.tags {
		if t.id != id {
			continue
		}
		w.tags = append(w.tags[:i], w.tags[i+1:]...)
		for _, x := range w.tickets {
			removeTag(&x.tags, id)
		}
		for _, x := range w.contacts {
			removeTag(&x.tags, id)
		}
		for _, x := range w.companies {
			removeTag(&x.tags, id)
		}
		for _, x := range w.conversations {
			removeTag(&x.tags, id)
		}
		return http.StatusOK, noBody{}, nil
	}
	return 0, nil, errNotFound("not_found", "Resource Not Found")
}

// createTag implements POST /tags, whose body is oneOf (2.11.yaml createTag):
// create_or_update_tag_request {name, id?}, tag_company_request {name,
// companies:[{id}|{company_id}]}, untag_company_request {name,
// companies:[{id, company_id, untag:true}]} and tag_multiple_users_request
// {name, users:[{id}]}. 2.11.yaml to 2.15.yaml answer tag_basic; 2.16.yaml and
// unstable.yaml answer tag_create_response, which adds users/companies with a
// tagged flag (see tagCreateResponse).
func (s *Server) createTag(c *call) (int, any, error) {
	w := s.ws
	body, err := decodeObject(c.body, "")
	if err != nil {
		return 0, nil, err
	}
	name, err := body.requiredStr("name")
	if err != nil {
		return 0, nil, err
	}
	name = strings.TrimSpace(name)
	companies, hasCompanies, err1 := body.array("companies")
	users, hasUsers, err2 := body.array("users")
	if err := firstErr(err1, err2); err != nil {
		return 0, nil, err
	}
	var out tagCreateJSON
	switch {
	case hasUsers:
		tagged, err := s.tagUsers(name, users, c)
		if err != nil {
			return 0, nil, err
		}
		out.Users = tagged
	case hasCompanies:
		tagged, err := s.tagCompanies(name, companies, c)
		if err != nil {
			return 0, nil, err
		}
		out.Companies = tagged
	case body.has("id"):
		id, _, err := body.id("id")
		if err != nil {
			return 0, nil, err
		}
		t := w.tag(id)
		if t == nil {
			return 0, nil, errNotFound("not_found", "Resource Not Found")
		}
		if other := s.tagByName(name); other != nil && other != t {
			return 0, nil, errInvalid("name", "A tag named %q already exists", name)
		}
		t.name = name
	}
	// Names are case-insensitive: an existing tag is found, not duplicated.
	t := s.tagByName(name)
	if t == nil {
		t = &tag{id: w.next("tag"), name: name}
		w.tags = append(w.tags, t)
	}
	if !c.version.has(tagCreateResponse) {
		return http.StatusOK, renderTag(t), nil
	}
	out.Type, out.ID, out.Name = "tag", t.id, t.name
	return http.StatusOK, out, nil
}

func (s *Server) ensureTag(name string) *tag {
	if t := s.tagByName(name); t != nil {
		return t
	}
	t := &tag{id: s.ws.next("tag"), name: name}
	s.ws.tags = append(s.ws.tags, t)
	return t
}

func (s *Server) tagCompanies(name string, items []json.RawMessage, c *call) ([]taggedJSON, error) {
	type target struct {
		co    *company
		id    string
		untag bool
	}
	var targets []target
	for _, raw := range items {
		o, err := decodeObject(raw, "companies")
		if err != nil {
			return nil, err
		}
		id, idSet, err1 := o.str("id")
		cid, cidSet, err2 := o.str("company_id")
		untag, _, err3 := o.boolean("untag")
		if err := firstErr(err1, err2, err3); err != nil {
			return nil, err
		}
		if !idSet && !cidSet {
			return nil, errInvalid("companies", "Each company needs id or company_id")
		}
		var found *company
		for _, co := range s.ws.companies {
			if (idSet && co.id == id) || (!idSet && cidSet && co.companyID == cid) {
				found = co
			}
		}
		ref := id
		if !idSet {
			ref = cid
		}
		if found == nil && !c.version.has(tagCreateResponse) {
			// 2.11.yaml to 2.15.yaml createTag document 404 company_not_found.
			return nil, errNotFound("company_not_found", "Company Not Found")
		}
		targets = append(targets, target{co: found, id: ref, untag: untag})
	}
	t := s.ensureTag(name)
	out := []taggedJSON{}
	for _, tg := range targets {
		if tg.co == nil {
			out = append(out, taggedJSON{ID: tg.id, Tagged: false})
			continue
		}
		if tg.untag {
			removeTag(&tg.co.tags, t.id)
			out = append(out, taggedJSON{ID: tg.co.id, Tagged: false})
			continue
		}
		applyTag(&tg.co.tags, t.id, "", c.now)
		out = append(out, taggedJSON{ID: tg.co.id, Tagged: true})
	}
	return out, nil
}

func (s *Server) tagUsers(name string, items []json.RawMessage, c *call) ([]taggedJSON, error) {
	var ids []string
	for _, raw := range items {
		o, err := decodeObject(raw, "users")
		if err != nil {
			return nil, err
		}
		id, ok, err := o.str("id")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errMissing("users.id")
		}
		if s.ws.contact(id) == nil && !c.version.has(tagCreateResponse) {
			// 2.11.yaml to 2.15.yaml createTag document 404 not_found for an unknown user.
			return nil, errNotFound("not_found", "User Not Found")
		}
		ids = append(ids, id)
	}
	t := s.ensureTag(name)
	out := []taggedJSON{}
	for _, id := range ids {
		ct := s.ws.contact(id)
		if ct == nil {
			out = append(out, taggedJSON{ID: id, Tagged: false})
			continue
		}
		applyTag(&ct.tags, t.id, "", c.now)
		out = append(out, taggedJSON{ID: id, Tagged: true})
	}
	return out, nil
}

func (s *Server) findContact(id string) (*contact, error) {
	if ct := s.ws.contact(id); ct != nil {
		return ct, nil
	}
	// listTagsForAContact documents 404 not_found "User Not Found".
	return nil, errNotFound("not_found", "User Not Found")
}

// listContactTags implements GET /contacts/{contact_id}/tags.
func (s *Server) listContactTags(c *call) (int, any, error) {
	ct, err := s.findContact(c.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	out := []tagJSON{}
	for _, a := range ct.tags {
		if t := s.ws.tag(a.tagID); t != nil {
			out = append(out, renderTag(t))
		}
	}
	return http.StatusOK, newList(out), nil
}

// attachTagToContact implements POST /contacts/{contact_id}/tags {id}: no
// admin_id, unlike conversations and tickets.
func (s *Server) attachTagToContact(c *call) (int, any, error) {
	ct, err := s.findContact(c.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	body, err := decodeObject(c.body, "")
	if err != nil {
		return 0, nil, err
	}
	id, ok, err := body.id("id")
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, errMissing("id")
	}
	t := s.ws.tag(id)
	if t == nil {
		return 0, nil, errNotFound("not_found", "Tag Not Found")
	}
	return http.StatusOK, renderApplied(t, applyTag(&ct.tags, t.id, s.ws.tokenAdmin(), c.now)), nil
}

// detachTagFromContact implements DELETE /contacts/{contact_id}/tags/{id}.
func (s *Server) detachTagFromContact(c *call) (int, any, error) {
	ct, err := s.findContact(c.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	t := s.ws.tag(c.r.PathValue("tag_id"))
	if t == nil {
		return 0, nil, errNotFound("not_found", "Tag Not Found")
	}
	// The answer carries applied_at/applied_by like an attach (2.11.yaml
	// detachTagFromContact example): when and by whom the removed tag had
	// been applied.
	return http.StatusOK, renderDetached(t, &ct.tags, s.ws.tokenAdmin(), c.now), nil
}

func (s *Server) findConversation(id string) (*conversation, error) {
	if cv := s.ws.conversation(id); cv != nil {
		return cv, nil
	}
	return nil, errNotFound("not_found", "Conversation Not Found")
}

// attachTagToConversation implements POST /conversations/{conversation_id}/tags {id, admin_id}.
func (s *Server) attachTagToConversation(c *call) (int, any, error) {
	cv, err := s.findConversation(c.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	t, a, err := s.tagAndAdmin(c, true)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, renderApplied(t, applyTag(&cv.tags, t.id, a.id, c.now)), nil
}

// detachTagFromConversation implements DELETE
// /conversations/{conversation_id}/tags/{id} with a JSON body {admin_id}.
func (s *Server) detachTagFromConversation(c *call) (int, any, error) {
	cv, err := s.findConversation(c.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	t, adm, err := s.tagAndAdmin(c, false)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, renderDetached(t, &cv.tags, adminID(adm), c.now), nil
}

func adminID(a *admin) string {
	if a == nil {
		return ""
	}
	return a.id
}

// renderDetached removes t from list and answers it with applied_at and
// applied_by of the removed entry (2.11.yaml detachTagFrom* examples). A tag
// that was not applied is answered as applied now by actor: detaching is
// idempotent here.
func renderDetached(t *tag, list *[]applied, actor string, now int64) tagJSON {
	a, ok := removeTag(list, t.id)
	if !ok {
		a = applied{tagID: t.id, appliedAt: now}
	}
	if a.adminID == "" {
		a.adminID = actor
	}
	return renderApplied(t, a)
}

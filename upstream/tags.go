package upstream

import (
	"context"
	"net/http"
)

// tagRefBody is the body of the tag attach and detach calls: {id, admin_id} for tickets and
// conversations, {id} for contacts (which take no admin_id, §10.5), {admin_id} for the DELETEs.
type tagRefBody struct {
	ID      string `json:"id,omitempty"`
	AdminID string `json:"admin_id,omitempty"`
}

// tagCall sends cl and decodes a tag (schemas tag, tag_basic, tag_create_response).
func (c *Client) tagCall(ctx context.Context, cl call) (*Tag, error) {
	return fetch(ctx, c, cl, (*wireTag).model)
}

// tagList sends cl and decodes a tag_list.
func (c *Client) tagList(ctx context.Context, cl call) ([]Tag, error) {
	return fetchList(ctx, c, cl, (*wireTag).model)
}

// attachTag tags an owner that takes an admin_id (a ticket or a conversation): POST
// /{owners}/{owner_id}/tags with {id, admin_id}. ownerPath is "/tickets/%s" or "/conversations/%s".
func (c *Client) attachTag(ctx context.Context, op Operation, ownerPath, ownerID, tagID, adminID string) (*Tag, error) {
	path, err := pathf(ownerPath+"/tags", ownerID)
	if err != nil {
		return nil, err
	}
	if tagID == "" || adminID == "" {
		return nil, invalidf("%s: tag id and admin id are required", op)
	}
	return c.tagCall(ctx, call{op: op, method: http.MethodPost, path: path, body: tagRefBody{ID: tagID, AdminID: adminID}})
}

// detachTag is attachTag's reverse: DELETE /{owners}/{owner_id}/tags/{id} with a JSON body {admin_id}.
func (c *Client) detachTag(ctx context.Context, op Operation, ownerPath, ownerID, tagID, adminID string) (*Tag, error) {
	path, err := pathf(ownerPath+"/tags/%s", ownerID, tagID)
	if err != nil {
		return nil, err
	}
	if adminID == "" {
		return nil, invalidf("%s: admin id is required", op)
	}
	return c.tagCall(ctx, call{op: op, method: http.MethodDelete, path: path, body: tagRefBody{AdminID: adminID}})
}

// ListTags lists every tag of the workspace (GET /tags, tag_list, no pagination).
func (c *Client) ListTags(ctx context.Context) ([]Tag, error) {
	return c.tagList(ctx, call{op: OpListTags, method: http.MethodGet, path: "/tags"})
}

// GetTag finds a tag by id (GET /tags/{id}, operation findTag).
func (c *Client) GetTag(ctx context.Context, id string) (*Tag, error) {
	path, err := pathf("/tags/%s", id)
	if err != nil {
		return nil, err
	}
	return c.tagCall(ctx, call{op: OpFindTag, method: http.MethodGet, path: path})
}

// CreateTag creates a tag, or returns the existing one: names are case-insensitive and POST /tags
// creates only when the name is not found (create_or_update_tag_request).
func (c *Client) CreateTag(ctx context.Context, name string) (*Tag, error) {
	if name == "" {
		return nil, invalidf("createTag: name is required")
	}
	return c.tagCall(ctx, call{op: OpCreateTag, method: http.MethodPost, path: "/tags", body: tagBody{Name: name}})
}

// RenameTag renames a tag: POST /tags with {id, name}, the update form of create_or_update_tag_request.
func (c *Client) RenameTag(ctx context.Context, id, name string) (*Tag, error) {
	if id == "" || name == "" {
		return nil, invalidf("createTag (rename): id and name are required")
	}
	return c.tagCall(ctx, call{op: OpCreateTag, method: http.MethodPost, path: "/tags", body: tagBody{ID: id, Name: name}})
}

// tagBody covers the POST /tags forms the client sends: create_or_update_tag_request,
// tag_company_request and untag_company_request.
type tagBody struct {
	ID        string        `json:"id,omitempty"`
	Name      string        `json:"name"`
	Companies []companyBody `json:"companies,omitempty"`
}

type companyBody struct {
	ID        string `json:"id,omitempty"`
	CompanyID string `json:"company_id,omitempty"`
	Untag     bool   `json:"untag,omitempty"`
}

// DeleteTag deletes a tag (DELETE /tags/{id}). Intercom refuses with 400 tag_has_dependent_objects
// while, for example, a segment uses it.
func (c *Client) DeleteTag(ctx context.Context, id string) error {
	path, err := pathf("/tags/%s", id)
	if err != nil {
		return err
	}
	return c.do(ctx, call{op: OpDeleteTag, method: http.MethodDelete, path: path})
}

// ListContactTags lists the tags of a contact (GET /contacts/{contact_id}/tags).
func (c *Client) ListContactTags(ctx context.Context, contactID string) ([]Tag, error) {
	path, err := pathf("/contacts/%s/tags", contactID)
	if err != nil {
		return nil, err
	}
	return c.tagList(ctx, call{op: OpListTagsForAContact, method: http.MethodGet, path: path})
}

// TagContact tags a contact (POST /contacts/{contact_id}/tags, body {id}; no admin_id here).
func (c *Client) TagContact(ctx context.Context, contactID, tagID string) (*Tag, error) {
	path, err := pathf("/contacts/%s/tags", contactID)
	if err != nil {
		return nil, err
	}
	if tagID == "" {
		return nil, invalidf("attachTagToContact: tag id is required")
	}
	return c.tagCall(ctx, call{op: OpAttachTagToContact, method: http.MethodPost, path: path, body: tagRefBody{ID: tagID}})
}

// UntagContact removes a tag from a contact (DELETE /contacts/{contact_id}/tags/{id}).
func (c *Client) UntagContact(ctx context.Context, contactID, tagID string) (*Tag, error) {
	path, err := pathf("/contacts/%s/tags/%s", contactID, tagID)
	if err != nil {
		return nil, err
	}
	return c.tagCall(ctx, call{op: OpDetachTagFromContact, method: http.MethodDelete, path: path})
}

// TagConversation tags a conversation (POST /conversations/{conversation_id}/tags, body {id, admin_id}).
func (c *Client) TagConversation(ctx context.Context, conversationID, tagID, adminID string) (*Tag, error) {
	return c.attachTag(ctx, OpAttachTagToConversation, "/conversations/%s", conversationID, tagID, adminID)
}

// UntagConversation removes a tag from a conversation (DELETE
// /conversations/{conversation_id}/tags/{id} with a JSON body {admin_id}).
func (c *Client) UntagConversation(ctx context.Context, conversationID, tagID, adminID string) (*Tag, error) {
	return c.detachTag(ctx, OpDetachTagFromConversation, "/conversations/%s", conversationID, tagID, adminID)
}

// TagCompanies applies the named tag, creating it when needed, to companies (POST /tags,
// tag_company_request). Each company is identified by Intercom's id or by your company_id.
func (c *Client) TagCompanies(ctx context.Context, name string, companies []CompanyRef) (*Tag, error) {
	body, err := companiesBody(name, companies, false)
	if err != nil {
		return nil, err
	}
	return c.tagCall(ctx, call{op: OpCreateTag, method: http.MethodPost, path: "/tags", body: body})
}

// UntagCompanies removes the named tag from companies (POST /tags, untag_company_request with
// untag: true). 2.11 marks id, company_id and untag all required; the client sends the ids it is given.
func (c *Client) UntagCompanies(ctx context.Context, name string, companies []CompanyRef) (*Tag, error) {
	body, err := companiesBody(name, companies, true)
	if err != nil {
		return nil, err
	}
	return c.tagCall(ctx, call{op: OpCreateTag, method: http.MethodPost, path: "/tags", body: body})
}

func companiesBody(name string, companies []CompanyRef, untag bool) (tagBody, error) {
	if name == "" || len(companies) == 0 {
		return tagBody{}, invalidf("createTag (companies): a tag name and at least one company are required")
	}
	b := tagBody{Name: name}
	for i, co := range companies {
		if co.ID == "" && co.CompanyID == "" {
			return tagBody{}, invalidf("createTag (companies): company %d needs an id or a company_id", i)
		}
		b.Companies = append(b.Companies, companyBody{ID: co.ID, CompanyID: co.CompanyID, Untag: untag})
	}
	return b, nil
}

package service

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// MaxTagNameLength is the longest tag name the gateway accepts, in
// characters. Intercom publishes no limit (2.11.yaml
// create_or_update_tag_request.name has no maxLength); tag names are short
// labels shown in Intercom's inbox, and a bound keeps a 1 MB name from being
// forwarded and stored.
const MaxTagNameLength = 255

// tagName records a violation for a blank or overlong tag name.
func (v *violations) tagName(field, name string) {
	switch {
	case strings.TrimSpace(name) == "":
		v.add(field, "is required")
	case utf8.RuneCountInString(name) > MaxTagNameLength:
		v.add(field, fmt.Sprintf("is longer than %d characters", MaxTagNameLength))
	}
}

// ListTags implements gatewayv1.TagServiceServer.
func (s *TagService) ListTags(ctx context.Context, _ *gatewayv1.ListTagsRequest) (*gatewayv1.ListTagsResponse, error) {
	return run(ctx, s.backends, nil, func(b Backend) ([]upstream.Tag, error) { return b.Tags.ListTags(ctx) },
		func(tags []upstream.Tag) *gatewayv1.ListTagsResponse {
			return &gatewayv1.ListTagsResponse{Tags: tagsToProto(tags)}
		})
}

// GetTag implements gatewayv1.TagServiceServer.
func (s *TagService) GetTag(ctx context.Context, req *gatewayv1.GetTagRequest) (*gatewayv1.GetTagResponse, error) {
	var v violations
	v.id("tag_id", req.GetTagId())
	return run(ctx, s.backends, v, func(b Backend) (*upstream.Tag, error) { return b.Tags.GetTag(ctx, req.GetTagId()) },
		func(t *upstream.Tag) *gatewayv1.GetTagResponse { return &gatewayv1.GetTagResponse{Tag: tagToProto(t)} })
}

// CreateTag implements gatewayv1.TagServiceServer.
func (s *TagService) CreateTag(ctx context.Context, req *gatewayv1.CreateTagRequest) (*gatewayv1.CreateTagResponse, error) {
	var v violations
	v.tagName("name", req.GetName())
	return run(ctx, s.backends, v, func(b Backend) (*upstream.Tag, error) { return b.Tags.CreateTag(ctx, req.GetName()) },
		func(t *upstream.Tag) *gatewayv1.CreateTagResponse {
			return &gatewayv1.CreateTagResponse{Tag: tagToProto(t)}
		})
}

// UpdateTag implements gatewayv1.TagServiceServer. Intercom renames a tag
// through POST /tags with the tag's id (2.11.yaml createTag, "update").
func (s *TagService) UpdateTag(ctx context.Context, req *gatewayv1.UpdateTagRequest) (*gatewayv1.UpdateTagResponse, error) {
	var v violations
	v.id("tag_id", req.GetTagId())
	v.tagName("name", req.GetName())
	return run(ctx, s.backends, v, func(b Backend) (*upstream.Tag, error) { return b.Tags.RenameTag(ctx, req.GetTagId(), req.GetName()) },
		func(t *upstream.Tag) *gatewayv1.UpdateTagResponse {
			return &gatewayv1.UpdateTagResponse{Tag: tagToProto(t)}
		})
}

// DeleteTag implements gatewayv1.TagServiceServer.
func (s *TagService) DeleteTag(ctx context.Context, req *gatewayv1.DeleteTagRequest) (*gatewayv1.DeleteTagResponse, error) {
	var v violations
	v.id("tag_id", req.GetTagId())
	return run(ctx, s.backends, v, func(b Backend) (struct{}, error) { return struct{}{}, b.Tags.DeleteTag(ctx, req.GetTagId()) },
		func(struct{}) *gatewayv1.DeleteTagResponse { return &gatewayv1.DeleteTagResponse{} })
}

// TagContact implements gatewayv1.TagServiceServer.
func (s *TagService) TagContact(ctx context.Context, req *gatewayv1.TagContactRequest) (*gatewayv1.TagContactResponse, error) {
	var v violations
	v.id("contact_id", req.GetContactId())
	v.id("tag_id", req.GetTagId())
	return run(ctx, s.backends, v, func(b Backend) (*upstream.Tag, error) {
		return b.Tags.TagContact(ctx, req.GetContactId(), req.GetTagId())
	},
		func(t *upstream.Tag) *gatewayv1.TagContactResponse {
			return &gatewayv1.TagContactResponse{Tag: tagToProto(t)}
		})
}

// UntagContact implements gatewayv1.TagServiceServer.
func (s *TagService) UntagContact(ctx context.Context, req *gatewayv1.UntagContactRequest) (*gatewayv1.UntagContactResponse, error) {
	var v violations
	v.id("contact_id", req.GetContactId())
	v.id("tag_id", req.GetTagId())
	return run(ctx, s.backends, v, func(b Backend) (*upstream.Tag, error) {
		return b.Tags.UntagContact(ctx, req.GetContactId(), req.GetTagId())
	},
		func(t *upstream.Tag) *gatewayv1.UntagContactResponse {
			return &gatewayv1.UntagContactResponse{Tag: tagToProto(t)}
		})
}

// ListContactTags implements gatewayv1.TagServiceServer.
func (s *TagService) ListContactTags(ctx context.Context, req *gatewayv1.ListContactTagsRequest) (*gatewayv1.ListContactTagsResponse, error) {
	var v violations
	v.id("contact_id", req.GetContactId())
	return run(ctx, s.backends, v, func(b Backend) ([]upstream.Tag, error) { return b.Tags.ListContactTags(ctx, req.GetContactId()) },
		func(tags []upstream.Tag) *gatewayv1.ListContactTagsResponse {
			return &gatewayv1.ListContactTagsResponse{Tags: tagsToProto(tags)}
		})
}

// TagConversation implements gatewayv1.TagServiceServer. Unlike contacts,
// conversations need the acting admin (2.11.yaml attachTagToConversation).
func (s *TagService) TagConversation(ctx context.Context, req *gatewayv1.TagConversationRequest) (*gatewayv1.TagConversationResponse, error) {
	v := conversationTagViolations(req.GetConversationId(), req.GetTagId(), req.GetAdminId())
	return run(ctx, s.backends, v, func(b Backend) (*upstream.Tag, error) {
		return b.Tags.TagConversation(ctx, req.GetConversationId(), req.GetTagId(), req.GetAdminId())
	}, func(t *upstream.Tag) *gatewayv1.TagConversationResponse {
		return &gatewayv1.TagConversationResponse{Tag: tagToProto(t)}
	})
}

// UntagConversation implements gatewayv1.TagServiceServer.
func (s *TagService) UntagConversation(ctx context.Context, req *gatewayv1.UntagConversationRequest) (*gatewayv1.UntagConversationResponse, error) {
	v := conversationTagViolations(req.GetConversationId(), req.GetTagId(), req.GetAdminId())
	return run(ctx, s.backends, v, func(b Backend) (*upstream.Tag, error) {
		return b.Tags.UntagConversation(ctx, req.GetConversationId(), req.GetTagId(), req.GetAdminId())
	}, func(t *upstream.Tag) *gatewayv1.UntagConversationResponse {
		return &gatewayv1.UntagConversationResponse{Tag: tagToProto(t)}
	})
}

func conversationTagViolations(conversationID, tagID, adminID string) violations {
	var v violations
	v.id("conversation_id", conversationID)
	v.id("tag_id", tagID)
	v.id("admin_id", adminID)
	return v
}

// companyRefs validates and converts company identifiers. requireBoth is
// set for untagging, where 2.11 marks both id and company_id required
// (untag_company_request).
func companyRefs(v *violations, companies []*gatewayv1.CompanyIdentifier, requireBoth bool) []upstream.CompanyRef {
	if len(companies) == 0 {
		v.add("companies", "must name at least one company")
	}
	out := make([]upstream.CompanyRef, 0, len(companies))
	for i, c := range companies {
		field := fmt.Sprintf("companies[%d]", i)
		switch {
		case requireBoth:
			v.id(field+".id", c.GetId())
			if strings.TrimSpace(c.GetCompanyId()) == "" {
				v.add(field+".company_id", "is required to untag a company")
			}
			v.externalID(field+".company_id", c.GetCompanyId())
		case c.GetId() == "" && strings.TrimSpace(c.GetCompanyId()) == "":
			v.add(field, "needs id or company_id")
		default:
			v.optionalID(field+".id", c.GetId())
			v.externalID(field+".company_id", c.GetCompanyId())
		}
		out = append(out, upstream.CompanyRef{ID: c.GetId(), CompanyID: c.GetCompanyId()})
	}
	return out
}

// TagCompanies implements gatewayv1.TagServiceServer.
func (s *TagService) TagCompanies(ctx context.Context, req *gatewayv1.TagCompaniesRequest) (*gatewayv1.TagCompaniesResponse, error) {
	var v violations
	v.tagName("name", req.GetName())
	refs := companyRefs(&v, req.GetCompanies(), false)
	return run(ctx, s.backends, v, func(b Backend) (*upstream.Tag, error) { return b.Tags.TagCompanies(ctx, req.GetName(), refs) },
		func(t *upstream.Tag) *gatewayv1.TagCompaniesResponse {
			return &gatewayv1.TagCompaniesResponse{Tag: tagToProto(t)}
		})
}

// UntagCompanies implements gatewayv1.TagServiceServer.
func (s *TagService) UntagCompanies(ctx context.Context, req *gatewayv1.UntagCompaniesRequest) (*gatewayv1.UntagCompaniesResponse, error) {
	var v violations
	v.tagName("name", req.GetName())
	refs := companyRefs(&v, req.GetCompanies(), true)
	return run(ctx, s.backends, v, func(b Backend) (*upstream.Tag, error) { return b.Tags.UntagCompanies(ctx, req.GetName(), refs) },
		func(t *upstream.Tag) *gatewayv1.UntagCompaniesResponse {
			return &gatewayv1.UntagCompaniesResponse{Tag: tagToProto(t)}
		})
}

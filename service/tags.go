package service

import (
	"context"
	"fmt"
	"strings"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// tagName records a violation for a blank tag name.
func (v *violations) tagName(field, name string) {
	if strings.TrimSpace(name) == "" {
		v.add(field, "is required")
	}
}

// ListTags implements gatewayv1.TagServiceServer.
func (s *TagService) ListTags(ctx context.Context, _ *gatewayv1.ListTagsRequest) (*gatewayv1.ListTagsResponse, error) {
	tags, err := s.api.ListTags(ctx)
	if err != nil {
		return nil, err
	}
	return &gatewayv1.ListTagsResponse{Tags: tagsToProto(tags)}, nil
}

// GetTag implements gatewayv1.TagServiceServer.
func (s *TagService) GetTag(ctx context.Context, req *gatewayv1.GetTagRequest) (*gatewayv1.GetTagResponse, error) {
	var v violations
	v.id("tag_id", req.GetTagId())
	if err := v.err(); err != nil {
		return nil, err
	}
	t, err := s.api.GetTag(ctx, req.GetTagId())
	if err != nil {
		return nil, err
	}
	return &gatewayv1.GetTagResponse{Tag: tagToProto(t)}, nil
}

// CreateTag implements gatewayv1.TagServiceServer.
func (s *TagService) CreateTag(ctx context.Context, req *gatewayv1.CreateTagRequest) (*gatewayv1.CreateTagResponse, error) {
	var v violations
	v.tagName("name", req.GetName())
	if err := v.err(); err != nil {
		return nil, err
	}
	t, err := s.api.CreateTag(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	return &gatewayv1.CreateTagResponse{Tag: tagToProto(t)}, nil
}

// UpdateTag implements gatewayv1.TagServiceServer.
func (s *TagService) UpdateTag(ctx context.Context, req *gatewayv1.UpdateTagRequest) (*gatewayv1.UpdateTagResponse, error) {
	var v violations
	v.id("tag_id", req.GetTagId())
	v.tagName("name", req.GetName())
	if err := v.err(); err != nil {
		return nil, err
	}
	t, err := s.api.RenameTag(ctx, req.GetTagId(), req.GetName())
	if err != nil {
		return nil, err
	}
	return &gatewayv1.UpdateTagResponse{Tag: tagToProto(t)}, nil
}

// DeleteTag implements gatewayv1.TagServiceServer.
func (s *TagService) DeleteTag(ctx context.Context, req *gatewayv1.DeleteTagRequest) (*gatewayv1.DeleteTagResponse, error) {
	var v violations
	v.id("tag_id", req.GetTagId())
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := s.api.DeleteTag(ctx, req.GetTagId()); err != nil {
		return nil, err
	}
	return &gatewayv1.DeleteTagResponse{}, nil
}

// TagContact implements gatewayv1.TagServiceServer.
func (s *TagService) TagContact(ctx context.Context, req *gatewayv1.TagContactRequest) (*gatewayv1.TagContactResponse, error) {
	var v violations
	v.id("contact_id", req.GetContactId())
	v.id("tag_id", req.GetTagId())
	if err := v.err(); err != nil {
		return nil, err
	}
	t, err := s.api.TagContact(ctx, req.GetContactId(), req.GetTagId())
	if err != nil {
		return nil, err
	}
	return &gatewayv1.TagContactResponse{Tag: tagToProto(t)}, nil
}

// UntagContact implements gatewayv1.TagServiceServer.
func (s *TagService) UntagContact(ctx context.Context, req *gatewayv1.UntagContactRequest) (*gatewayv1.UntagContactResponse, error) {
	var v violations
	v.id("contact_id", req.GetContactId())
	v.id("tag_id", req.GetTagId())
	if err := v.err(); err != nil {
		return nil, err
	}
	t, err := s.api.UntagContact(ctx, req.GetContactId(), req.GetTagId())
	if err != nil {
		return nil, err
	}
	return &gatewayv1.UntagContactResponse{Tag: tagToProto(t)}, nil
}

// ListContactTags implements gatewayv1.TagServiceServer.
func (s *TagService) ListContactTags(ctx context.Context, req *gatewayv1.ListContactTagsRequest) (*gatewayv1.ListContactTagsResponse, error) {
	var v violations
	v.id("contact_id", req.GetContactId())
	if err := v.err(); err != nil {
		return nil, err
	}
	tags, err := s.api.ListContactTags(ctx, req.GetContactId())
	if err != nil {
		return nil, err
	}
	return &gatewayv1.ListContactTagsResponse{Tags: tagsToProto(tags)}, nil
}

// TagConversation implements gatewayv1.TagServiceServer.
func (s *TagService) TagConversation(ctx context.Context, req *gatewayv1.TagConversationRequest) (*gatewayv1.TagConversationResponse, error) {
	var v violations
	v.id("conversation_id", req.GetConversationId())
	v.id("tag_id", req.GetTagId())
	v.id("admin_id", req.GetAdminId())
	if err := v.err(); err != nil {
		return nil, err
	}
	t, err := s.api.TagConversation(ctx, req.GetConversationId(), req.GetTagId(), req.GetAdminId())
	if err != nil {
		return nil, err
	}
	return &gatewayv1.TagConversationResponse{Tag: tagToProto(t)}, nil
}

// UntagConversation implements gatewayv1.TagServiceServer.
func (s *TagService) UntagConversation(ctx context.Context, req *gatewayv1.UntagConversationRequest) (*gatewayv1.UntagConversationResponse, error) {
	var v violations
	v.id("conversation_id", req.GetConversationId())
	v.id("tag_id", req.GetTagId())
	v.id("admin_id", req.GetAdminId())
	if err := v.err(); err != nil {
		return nil, err
	}
	t, err := s.api.UntagConversation(ctx, req.GetConversationId(), req.GetTagId(), req.GetAdminId())
	if err != nil {
		return nil, err
	}
	return &gatewayv1.UntagConversationResponse{Tag: tagToProto(t)}, nil
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
		case c.GetId() == "" && strings.TrimSpace(c.GetCompanyId()) == "":
			v.add(field, "needs id or company_id")
		default:
			v.optionalID(field+".id", c.GetId())
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
	if err := v.err(); err != nil {
		return nil, err
	}
	t, err := s.api.TagCompanies(ctx, req.GetName(), refs)
	if err != nil {
		return nil, err
	}
	return &gatewayv1.TagCompaniesResponse{Tag: tagToProto(t)}, nil
}

// UntagCompanies implements gatewayv1.TagServiceServer.
func (s *TagService) UntagCompanies(ctx context.Context, req *gatewayv1.UntagCompaniesRequest) (*gatewayv1.UntagCompaniesResponse, error) {
	var v violations
	v.tagName("name", req.GetName())
	refs := companyRefs(&v, req.GetCompanies(), true)
	if err := v.err(); err != nil {
		return nil, err
	}
	t, err := s.api.UntagCompanies(ctx, req.GetName(), refs)
	if err != nil {
		return nil, err
	}
	return &gatewayv1.UntagCompaniesResponse{Tag: tagToProto(t)}, nil
}

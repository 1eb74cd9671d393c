package service

import (
	"context"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

type protoadaptMessage = protoadapt.MessageV1

// violations collects the problems of one request, so a caller learns about
// all of them in one answer instead of one per attempt.
type violations []*errdetails.BadRequest_FieldViolation

// add records that field (a proto field path such as "query.group.queries[2]")
// is wrong.
func (v *violations) add(field, description string) {
	*v = append(*v, &errdetails.BadRequest_FieldViolation{Field: field, Description: description})
}

// err is nil without violations, else INVALID_ARGUMENT with a BadRequest
// detail listing them.
func (v violations) err() error {
	if len(v) == 0 {
		return nil
	}
	msg := "invalid request: " + v[0].GetField() + " " + v[0].GetDescription()
	if len(v) > 1 {
		msg += " (and more; see details)"
	}
	return mustWithDetails(status.New(codes.InvalidArgument, msg),
		&errdetails.ErrorInfo{Reason: ReasonInvalidRequest, Domain: ErrorDomain},
		&errdetails.BadRequest{FieldViolations: v},
	).Err()
}

// withInfo builds a status with an ErrorInfo detail.
func withInfo(code codes.Code, msg, reason string, meta map[string]string) *status.Status {
	return mustWithDetails(status.New(code, msg), &errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: meta})
}

// mustWithDetails attaches details. WithDetails fails only for an OK status,
// which is never passed here, so a failure is a programming error.
func mustWithDetails(st *status.Status, details ...protoadaptMessage) *status.Status {
	out, err := st.WithDetails(details...)
	if err != nil {
		panic("service: attaching error details: " + err.Error())
	}
	return out
}

// run is the shape of every simple handler: refuse the request when v holds
// violations, so nothing invalid reaches Intercom; otherwise find the call's
// Backend, make the one Intercom call and convert its answer. Errors pass
// through unchanged to the error interceptor.
func run[U any, R any](ctx context.Context, bs Backends, v violations, call func(Backend) (U, error), convert func(U) R) (R, error) {
	var zero R
	if err := v.err(); err != nil {
		return zero, err
	}
	b, err := bs.Backend(ctx)
	if err != nil {
		return zero, err
	}
	u, err := call(b)
	if err != nil {
		return zero, err
	}
	return convert(u), nil
}

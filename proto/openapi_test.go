package proto_test

import (
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1" // registers the contract
	"github.com/intercom-gateway/intercom-gateway/gen/openapiv2"
)

// TestEveryRPCIsInTheOpenAPIDocument checks that each RPC has a REST
// mapping in the generated OpenAPI document, and that every field of every
// message carries a description taken from the proto comments.
func TestEveryRPCIsInTheOpenAPIDocument(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths       map[string]map[string]struct{ OperationID string } `json:"paths"`
		Definitions map[string]struct {
			Properties map[string]struct {
				Description string `json:"description"`
				Title       string `json:"title"`
				Ref         string `json:"$ref"`
			} `json:"properties"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(openapiv2.JSON, &doc); err != nil {
		t.Fatal(err)
	}
	ops := map[string]bool{}
	for _, methods := range doc.Paths {
		for _, op := range methods {
			ops[op.OperationID] = true
		}
	}

	rpcs := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("intercom.gateway.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				rpcs++
				id := string(sd.Name()) + "_" + string(sd.Methods().Get(j).Name())
				if !ops[id] {
					t.Errorf("RPC %s has no REST operation %s in the OpenAPI document", sd.Methods().Get(j).FullName(), id)
				}
			}
		}
		return true
	})
	if rpcs != 28 {
		t.Errorf("found %d RPCs, want the 28 of the contract", rpcs)
	}

	for name, def := range doc.Definitions {
		if name == "protobufAny" || name == "rpcStatus" || name == "protobufNullValue" {
			continue // well-known types from google/protobuf and google/rpc
		}
		for field, p := range def.Properties {
			// A field whose type is a message shows that message's docs
			// through $ref; others need their own.
			if p.Description == "" && p.Title == "" && p.Ref == "" {
				t.Errorf("%s.%s has no description in the OpenAPI document", name, field)
			}
		}
	}
}

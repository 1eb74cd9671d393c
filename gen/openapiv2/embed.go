// Package openapiv2 embeds the OpenAPI v2 description that protoc-gen-openapiv2
// generates from proto/, so the gateway can serve it at /openapi.json.
//
// This file is the only hand-written file under gen/; `buf generate` writes
// gateway.swagger.json next to it and never touches it.
package openapiv2

import _ "embed"

// JSON is the merged OpenAPI v2 document of every gateway service.
//
//go:embed gateway.swagger.json
var JSON []byte

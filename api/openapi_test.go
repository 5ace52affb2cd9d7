package api_test

import (
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/errs"
)

type openAPIDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

// TestOpenAPICoversRoutes: every route registered on the mux is in the
// OpenAPI document, and every operation of the document is a route the mux
// serves (checked by routing a request for it).
func TestOpenAPICoversRoutes(t *testing.T) {
	var doc openAPIDoc
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	srv := api.New(nil, api.Config{})
	registered := srv.Routes()
	slices.Sort(documented)
	slices.Sort(registered)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("openapi.json documents %s, which is not a route", d)
		}
	}
	// The mux really routes each documented operation to its pattern.
	param := regexp.MustCompile(`\{[a-z]+\}`)
	for _, d := range documented {
		method, path, _ := strings.Cut(d, " ")
		req := httptest.NewRequest(method, param.ReplaceAllString(path, "x1"), nil)
		if _, pattern := srv.Mux().Handler(req); pattern != d {
			t.Errorf("%s routes to %q", d, pattern)
		}
	}
}

// TestOpenAPIErrorSchema: the document describes the error body and every
// operation documents error answers.
func TestOpenAPIErrorSchema(t *testing.T) {
	var doc struct {
		Paths      map[string]map[string]struct{ Responses map[string]json.RawMessage } `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Components.Schemas["Error"].Properties["error"]; !ok {
		t.Fatal("no Error schema with an error property")
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if path == "/v1/openapi.json" {
				continue
			}
			hasErr := false
			for code := range op.Responses {
				hasErr = hasErr || code[0] == '4' || code[0] == '5'
			}
			if !hasErr {
				t.Errorf("%s %s documents no error answer", method, path)
			}
		}
	}
	// Every class name appears in the table the description gives, or is
	// at least a known class (guards against a stale document).
	if !strings.Contains(string(api.OpenAPI()), errs.ErrInsufficientFunds.Name) {
		t.Error("status table missing from the description")
	}
}

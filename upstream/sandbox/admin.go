package sandbox

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

// adminPrefix is the test-control surface. It needs no auth and its requests
// are not recorded; it is not part of Intercom's API.
const adminPrefix = "/__sandbox/"

// recordedJSON is RecordedRequest for the admin API: the body as text when it
// is UTF-8 (base64 in body_base64 otherwise).
type recordedJSON struct {
	RecordedRequest
	Body       string `json:"body,omitempty"`
	BodyBase64 []byte `json:"body_base64,omitempty"`
}

func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /__sandbox/requests", func(w http.ResponseWriter, _ *http.Request) {
		reqs := s.Requests()
		out := make([]recordedJSON, 0, len(reqs))
		for _, rr := range reqs {
			j := recordedJSON{RecordedRequest: rr}
			j.RecordedRequest.Body = nil
			// Requests() returns copies, so this changes only what leaves
			// over HTTP: whoever can reach the admin surface must not learn
			// a token, in case a real one was pointed at the sandbox.
			if auth := j.Header.Get("Authorization"); auth != "" {
				scheme, _, _ := strings.Cut(auth, " ")
				j.Header.Set("Authorization", scheme+" REDACTED")
			}
			if utf8.Valid(rr.Body) {
				j.Body = string(rr.Body)
			} else {
				j.BodyBase64 = rr.Body
			}
			out = append(out, j)
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("DELETE /__sandbox/requests", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetRequests()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /__sandbox/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	mux.HandleFunc("GET /__sandbox/faults", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("PUT /__sandbox/faults/{route}", func(w http.ResponseWriter, r *http.Request) {
		// A fault is a few hundred bytes; the cap keeps an endless body from exhausting memory.
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			status := http.StatusBadRequest
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				status = http.StatusRequestEntityTooLarge
			}
			writeJSON(w, status, map[string]string{"error": err.Error()})
			return
		}
		var f Fault
		if err := json.Unmarshal(b, &f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		s.SetFault(r.PathValue("route"), f)
		writeJSON(w, http.StatusOK, f)
	})
	mux.HandleFunc("DELETE /__sandbox/faults/{route}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		delete(s.faults, r.PathValue("route"))
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /__sandbox/faults", func(w http.ResponseWriter, _ *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /__sandbox/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.ServeHTTP(w, r)
}

package api

import "net/http"

// Routes lists the registered routes as "METHOD /path" (tests).
func (s *Server) Routes() []string {
	var out []string
	for _, rt := range s.routes() {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}

// Mux exposes the server's mux (tests check what it routes).
func (s *Server) Mux() interface {
	Handler(r *http.Request) (h http.Handler, pattern string)
} {
	return s.mux
}

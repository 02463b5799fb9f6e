package server

// registerRoutes registers every API. Each API family registers its own
// routes from its file (management: IAM, IAM Credentials, OAuth2, certs,
// metadata, Resource Manager; run: Run v2/v1/Knative, Cloud Functions v2).
func (e *Server) registerRoutes() {
	e.registerManagementRoutes()
	e.registerRunRoutes()
}

package server

// New starts an emulator serving every API and returns once it is
// listening.
func New(opts Options) (*Server, error) { return Start(opts, registerRoutes) }

// registerRoutes registers every API family's routes, custom-verb routes
// before their plain counterparts: IAM Credentials before IAM (they share
// the service-account prefix), Run v2 before its v1 and Knative surfaces.
func registerRoutes(e *Server) {
	e.registerCredentialsRoutes()
	e.registerIAMRoutes()
	e.registerRoleRoutes()
	e.registerCRMRoutes()
	e.registerOAuthRoutes()
	e.registerCertRoutes()
	e.registerMetadataRoutes()
	e.registerRunRoutes()
	e.registerRunV1Routes()
	e.registerFunctionRoutes()
}

// Package server assembles the emulator: every API family's routes on the
// core engine, in the order the router needs. Its tests drive the whole
// emulator through the real Google client libraries and gcloud.
package server

import (
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/asset"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/crm"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/functions"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/iam"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/iamcredentials"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/metadata"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/oauth"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/run"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/storage"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/sts"
)

// New starts an emulator serving every API and returns once it is
// listening.
func New(opts core.Options) (*core.Server, error) { return core.Start(opts, registerRoutes) }

// registerRoutes registers every API family's routes, custom-verb routes
// before their plain counterparts: IAM Credentials before IAM (they share
// the service-account prefix), Run v2 before its v1 and Knative surfaces.
func registerRoutes(e *core.Server) {
	iamcredentials.RegisterCredentialsRoutes(e)
	iam.RegisterIAMRoutes(e)
	iam.RegisterRoleRoutes(e)
	crm.RegisterCRMRoutes(e)
	oauth.RegisterOAuthRoutes(e)
	e.RegisterCertRoutes()
	metadata.RegisterMetadataRoutes(e)
	run.RegisterRunRoutes(e)
	run.RegisterRunV1Routes(e)
	functions.RegisterFunctionRoutes(e)
	asset.RegisterAssetRoutes(e)
	storage.Register(e)
	sts.Register(e)
}

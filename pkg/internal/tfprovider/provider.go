package tfprovider

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// resourceType describes one managed resource. Handlers receive and return
// plain Go data (see values.go). The generic planning in planResource
// mirrors the SDK the real provider is built on: diff suppression, ForceNew
// attributes, computed attributes unknown until apply.
type resourceType struct {
	// forceNew lists top-level attributes and blocks whose change replaces
	// the resource.
	forceNew []string
	// suppress holds per-attribute diff suppression: when it reports
	// old and new as equivalent, the prior value is kept.
	suppress map[string]func(old, new any) bool
	// computedOnUpdate lists attributes whose value is unknown after an
	// in-place update (etags).
	computedOnUpdate []string
	// validate checks a configuration.
	validate func(cfg map[string]any) []*tfprotov5.Diagnostic
	// customizePlan adjusts a plan (defaults, predictions). prior is nil on
	// create. It may add attributes to replace.
	customizePlan func(p *provider, prior, cfg, planned map[string]any, replace *[]string) error
	create        func(ctx context.Context, p *provider, planned map[string]any) (map[string]any, error)
	read          func(ctx context.Context, p *provider, state map[string]any) (map[string]any, error)
	update        func(ctx context.Context, p *provider, prior, planned map[string]any) (map[string]any, error)
	delete        func(ctx context.Context, p *provider, state map[string]any) error
	importState   func(ctx context.Context, p *provider, id string) (map[string]any, error)
}

// dataSourceType describes one data source.
type dataSourceType struct {
	validate func(cfg map[string]any) []*tfprotov5.Diagnostic
	read     func(ctx context.Context, p *provider, cfg map[string]any) (map[string]any, error)
}

// provider is the tfprotov5.ProviderServer.
type provider struct {
	schemas     *providerSchemas
	resources   map[string]*resourceType
	dataSources map[string]*dataSourceType

	opts configOptions

	mu     sync.Mutex
	config *Config
}

var _ tfprotov5.ProviderServer = (*provider)(nil)

// newProvider builds the server. opts lets tests observe waits and replace
// the HTTP stack.
func newProvider(opts configOptions) (*provider, error) {
	s, err := loadSchemas()
	if err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	p := &provider{
		schemas:     s,
		resources:   map[string]*resourceType{},
		dataSources: map[string]*dataSourceType{},
		opts:        opts,
	}
	registerResources(p)
	registerDataSources(p)
	for name := range p.resources {
		if s.Resources[name] == nil {
			return nil, fmt.Errorf("resource %s has no schema", name)
		}
	}
	for name := range p.dataSources {
		if s.DataSources[name] == nil {
			return nil, fmt.Errorf("data source %s has no schema", name)
		}
	}
	return p, nil
}

func (p *provider) sleep(ctx context.Context, d time.Duration) error {
	return p.opts.sleep(ctx, d)
}

func (p *provider) cfg() (*Config, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.config == nil {
		return nil, errors.New("the google provider is not configured")
	}
	return p.config, nil
}

func errDiag(summary string, err error) *tfprotov5.Diagnostic {
	return &tfprotov5.Diagnostic{Severity: tfprotov5.DiagnosticSeverityError, Summary: summary, Detail: err.Error()}
}

func errDiags(err error) []*tfprotov5.Diagnostic {
	if err == nil {
		return nil
	}
	return []*tfprotov5.Diagnostic{{Severity: tfprotov5.DiagnosticSeverityError, Summary: err.Error()}}
}

func attrDiag(attr string, err error) *tfprotov5.Diagnostic {
	return &tfprotov5.Diagnostic{
		Severity:  tfprotov5.DiagnosticSeverityError,
		Summary:   err.Error(),
		Attribute: tftypes.NewAttributePath().WithAttributeName(attr),
	}
}

func (p *provider) GetMetadata(ctx context.Context, _ *tfprotov5.GetMetadataRequest) (*tfprotov5.GetMetadataResponse, error) {
	resp := &tfprotov5.GetMetadataResponse{ServerCapabilities: &tfprotov5.ServerCapabilities{GetProviderSchemaOptional: true}}
	for _, n := range sortedKeys(p.resources) {
		resp.Resources = append(resp.Resources, tfprotov5.ResourceMetadata{TypeName: n})
	}
	for _, n := range sortedKeys(p.dataSources) {
		resp.DataSources = append(resp.DataSources, tfprotov5.DataSourceMetadata{TypeName: n})
	}
	return resp, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (p *provider) GetProviderSchema(ctx context.Context, _ *tfprotov5.GetProviderSchemaRequest) (*tfprotov5.GetProviderSchemaResponse, error) {
	resp := &tfprotov5.GetProviderSchemaResponse{
		ServerCapabilities: &tfprotov5.ServerCapabilities{GetProviderSchemaOptional: true},
		Provider:           p.schemas.Provider,
		ResourceSchemas:    map[string]*tfprotov5.Schema{},
		DataSourceSchemas:  map[string]*tfprotov5.Schema{},
	}
	for n := range p.resources {
		resp.ResourceSchemas[n] = p.schemas.Resources[n]
	}
	for n := range p.dataSources {
		resp.DataSourceSchemas[n] = p.schemas.DataSources[n]
	}
	return resp, nil
}

func (p *provider) GetResourceIdentitySchemas(context.Context, *tfprotov5.GetResourceIdentitySchemasRequest) (*tfprotov5.GetResourceIdentitySchemasResponse, error) {
	return &tfprotov5.GetResourceIdentitySchemasResponse{IdentitySchemas: map[string]*tfprotov5.ResourceIdentitySchema{}}, nil
}

func (p *provider) PrepareProviderConfig(ctx context.Context, req *tfprotov5.PrepareProviderConfigRequest) (*tfprotov5.PrepareProviderConfigResponse, error) {
	resp := &tfprotov5.PrepareProviderConfigResponse{PreparedConfig: req.Config}
	cfg, err := decode(p.schemas.Provider, req.Config)
	if err != nil {
		resp.Diagnostics = append(resp.Diagnostics, errDiag("Invalid provider configuration", err))
		return resp, nil
	}
	for _, k := range sortedKeys(cfg) {
		if s, ok := cfg[k].(string); ok && s != "" && strings.HasSuffix(k, "_custom_endpoint") {
			if err := validateCustomEndpoint(s); err != nil {
				resp.Diagnostics = append(resp.Diagnostics, attrDiag(k, err))
			}
		}
	}
	if a, c := str(cfg, "access_token"), str(cfg, "credentials"); a != "" && c != "" {
		resp.Diagnostics = append(resp.Diagnostics, attrDiag("access_token", errors.New(`"access_token": conflicts with credentials`)))
	}
	return resp, nil
}

func (p *provider) ConfigureProvider(ctx context.Context, req *tfprotov5.ConfigureProviderRequest) (*tfprotov5.ConfigureProviderResponse, error) {
	resp := &tfprotov5.ConfigureProviderResponse{}
	cfg, err := decode(p.schemas.Provider, req.Config)
	if err != nil {
		resp.Diagnostics = append(resp.Diagnostics, errDiag("Invalid provider configuration", err))
		return resp, nil
	}
	for k, v := range cfg {
		if isUnknown(v) {
			// Unknown provider settings: configure with what is known; the
			// SDK does the same and the values are known at apply time.
			delete(cfg, k)
		}
	}
	opts := p.opts
	opts.terraformUA = fmt.Sprintf("Terraform/%s (+https://www.terraform.io)", req.TerraformVersion)
	c, err := newConfig(ctx, cfg, opts)
	if err != nil {
		resp.Diagnostics = append(resp.Diagnostics, errDiag("Error configuring the google provider", err))
		return resp, nil
	}
	p.mu.Lock()
	p.config = c
	p.mu.Unlock()
	return resp, nil
}

func (p *provider) StopProvider(context.Context, *tfprotov5.StopProviderRequest) (*tfprotov5.StopProviderResponse, error) {
	return &tfprotov5.StopProviderResponse{}, nil
}

// ---- resources ----

func (p *provider) resource(name string) (*resourceType, *tfprotov5.Schema, error) {
	r, ok := p.resources[name]
	if !ok {
		return nil, nil, fmt.Errorf("unknown resource type %q", name)
	}
	return r, p.schemas.Resources[name], nil
}

func (p *provider) ValidateResourceTypeConfig(ctx context.Context, req *tfprotov5.ValidateResourceTypeConfigRequest) (*tfprotov5.ValidateResourceTypeConfigResponse, error) {
	r, s, err := p.resource(req.TypeName)
	if err != nil {
		return &tfprotov5.ValidateResourceTypeConfigResponse{Diagnostics: errDiags(err)}, nil
	}
	cfg, err := decode(s, req.Config)
	if err != nil {
		return &tfprotov5.ValidateResourceTypeConfigResponse{Diagnostics: errDiags(err)}, nil
	}
	resp := &tfprotov5.ValidateResourceTypeConfigResponse{}
	if r.validate != nil {
		resp.Diagnostics = r.validate(cfg)
	}
	return resp, nil
}

func (p *provider) UpgradeResourceState(ctx context.Context, req *tfprotov5.UpgradeResourceStateRequest) (*tfprotov5.UpgradeResourceStateResponse, error) {
	_, s, err := p.resource(req.TypeName)
	if err != nil {
		return &tfprotov5.UpgradeResourceStateResponse{Diagnostics: errDiags(err)}, nil
	}
	// All schemas are version 0: re-encode the stored JSON, dropping
	// attributes that are no longer in the schema.
	v, err := req.RawState.UnmarshalWithOpts(s.ValueType(), tfprotov5.UnmarshalOpts{ValueFromJSONOpts: tftypes.ValueFromJSONOpts{IgnoreUndefinedAttributes: true}})
	if err != nil {
		return &tfprotov5.UpgradeResourceStateResponse{Diagnostics: errDiags(fmt.Errorf("upgrading state: %w", err))}, nil
	}
	dv, err := tfprotov5.NewDynamicValue(s.ValueType(), v)
	if err != nil {
		return &tfprotov5.UpgradeResourceStateResponse{Diagnostics: errDiags(err)}, nil
	}
	return &tfprotov5.UpgradeResourceStateResponse{UpgradedState: &dv}, nil
}

func (p *provider) UpgradeResourceIdentity(context.Context, *tfprotov5.UpgradeResourceIdentityRequest) (*tfprotov5.UpgradeResourceIdentityResponse, error) {
	return &tfprotov5.UpgradeResourceIdentityResponse{Diagnostics: errDiags(errors.New("resource identity is not supported"))}, nil
}

func (p *provider) ReadResource(ctx context.Context, req *tfprotov5.ReadResourceRequest) (*tfprotov5.ReadResourceResponse, error) {
	r, s, err := p.resource(req.TypeName)
	if err != nil {
		return &tfprotov5.ReadResourceResponse{Diagnostics: errDiags(err)}, nil
	}
	state, err := decode(s, req.CurrentState)
	if err != nil {
		return &tfprotov5.ReadResourceResponse{Diagnostics: errDiags(err)}, nil
	}
	resp := &tfprotov5.ReadResourceResponse{NewState: req.CurrentState, Private: req.Private}
	if state == nil {
		return resp, nil
	}
	newState, err := r.read(ctx, p, state)
	if err != nil {
		resp.Diagnostics = errDiags(err)
		return resp, nil
	}
	if resp.NewState, err = encode(s, newState); err != nil {
		resp.Diagnostics = errDiags(err)
	}
	return resp, nil
}

func (p *provider) PlanResourceChange(ctx context.Context, req *tfprotov5.PlanResourceChangeRequest) (*tfprotov5.PlanResourceChangeResponse, error) {
	resp := &tfprotov5.PlanResourceChangeResponse{UnsafeToUseLegacyTypeSystem: true, PlannedPrivate: req.PriorPrivate}
	r, s, err := p.resource(req.TypeName)
	if err != nil {
		resp.Diagnostics = errDiags(err)
		return resp, nil
	}
	vals, err := decodeAll(s, req.PriorState, req.ProposedNewState, req.Config)
	if err != nil {
		resp.Diagnostics = errDiags(err)
		return resp, nil
	}
	prior, proposed, cfg := vals[0], vals[1], vals[2]
	if proposed == nil {
		// Destroy.
		resp.PlannedState = req.ProposedNewState
		return resp, nil
	}
	planned, replace, err := p.planResource(r, s, prior, cfg, proposed)
	if err != nil {
		resp.Diagnostics = errDiags(err)
		return resp, nil
	}
	if resp.PlannedState, err = encode(s, planned); err != nil {
		resp.Diagnostics = errDiags(err)
		return resp, nil
	}
	for _, a := range replace {
		resp.RequiresReplace = append(resp.RequiresReplace, tftypes.NewAttributePath().WithAttributeName(a))
	}
	return resp, nil
}

// decodeAll decodes each value under s; the first error stops it.
func decodeAll(s *tfprotov5.Schema, dvs ...*tfprotov5.DynamicValue) ([]map[string]any, error) {
	out := make([]map[string]any, len(dvs))
	for i, dv := range dvs {
		v, err := decode(s, dv)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// planResource computes the planned state the way the SDK would.
func (p *provider) planResource(r *resourceType, s *tfprotov5.Schema, prior, cfg, proposed map[string]any) (map[string]any, []string, error) {
	planned := copyMap(proposed)
	computed := map[string]bool{}
	for _, a := range s.Block.Attributes {
		if a.Computed {
			computed[a.Name] = true
		}
	}
	var replace []string
	if prior == nil {
		// Create: computed attributes the configuration leaves unset are
		// known only after apply.
		for name := range computed {
			if cfg[name] == nil {
				planned[name] = unknown{}
			}
		}
	} else {
		for name, eq := range r.suppress {
			if prior[name] != nil && !isUnknown(planned[name]) && eq(prior[name], planned[name]) {
				planned[name] = prior[name]
			}
		}
		for _, name := range r.forceNew {
			if !isUnknown(planned[name]) && !sdkEqual(prior[name], planned[name]) {
				replace = append(replace, name)
			}
		}
	}
	if r.customizePlan != nil {
		if err := r.customizePlan(p, prior, cfg, planned, &replace); err != nil {
			return nil, nil, err
		}
	}
	if prior != nil && len(replace) == 0 {
		changed := false
		for _, a := range s.Block.Attributes {
			if (a.Optional || a.Required) && !sdkEqual(prior[a.Name], planned[a.Name]) {
				changed = true
			}
		}
		for _, b := range s.Block.BlockTypes {
			if !sdkEqual(prior[b.TypeName], planned[b.TypeName]) {
				changed = true
			}
		}
		if changed {
			for _, name := range r.computedOnUpdate {
				planned[name] = unknown{}
			}
		} else {
			// No change: plan exactly the prior state so Terraform sees a
			// no-op even where config and state differ only in ways the
			// SDK ignores (null versus empty).
			planned = copyMap(prior)
		}
	}
	return planned, replace, nil
}

// sdkEqual compares values the way the SDK's diff does: null and the zero
// value of a type are the same, as are empty and null collections.
func sdkEqual(a, b any) bool {
	if isUnknown(a) || isUnknown(b) {
		return isUnknown(a) && isUnknown(b)
	}
	if isZero(a) && isZero(b) {
		return true
	}
	switch x := a.(type) {
	case string, bool:
		return a == b
	case *big.Float:
		y, ok := b.(*big.Float)
		return ok && x.Cmp(y) == 0
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		// Lists compare in order; the provider only builds sets from sorted
		// data, and Terraform hands sets over in a canonical order.
		for i := range x {
			if !sdkEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return false
		}
		keys := map[string]bool{}
		for k := range x {
			keys[k] = true
		}
		for k := range y {
			keys[k] = true
		}
		for k := range keys {
			if !sdkEqual(x[k], y[k]) {
				return false
			}
		}
		return true
	}
	return false
}

func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case *big.Float:
		return x.Sign() == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		// An object is not zero just because its fields are: blocks count.
		return len(x) == 0
	}
	return false
}

func (p *provider) ApplyResourceChange(ctx context.Context, req *tfprotov5.ApplyResourceChangeRequest) (*tfprotov5.ApplyResourceChangeResponse, error) {
	resp := &tfprotov5.ApplyResourceChangeResponse{UnsafeToUseLegacyTypeSystem: true, Private: req.PlannedPrivate}
	r, s, err := p.resource(req.TypeName)
	if err != nil {
		resp.Diagnostics = errDiags(err)
		return resp, nil
	}
	vals, err := decodeAll(s, req.PriorState, req.PlannedState)
	if err != nil {
		resp.Diagnostics = errDiags(err)
		return resp, nil
	}
	prior, planned := vals[0], vals[1]
	var newState map[string]any
	switch {
	case planned == nil:
		if err := r.delete(ctx, p, prior); err != nil {
			resp.Diagnostics = errDiags(err)
			resp.NewState = req.PriorState
			return resp, nil
		}
	case prior == nil:
		newState, err = r.create(ctx, p, planned)
	default:
		if r.update == nil {
			err = fmt.Errorf("resource %s cannot be updated in place", req.TypeName)
		} else {
			newState, err = r.update(ctx, p, prior, planned)
		}
	}
	if err != nil {
		resp.Diagnostics = errDiags(err)
		// A failed create that still produced an id is kept in state
		// (tainted), as the SDK does.
		if newState == nil {
			if prior != nil {
				resp.NewState = req.PriorState
				return resp, nil
			}
			resp.NewState, _ = encode(s, nil)
			return resp, nil
		}
	}
	if newState != nil {
		// Whatever is still unknown after apply becomes null.
		for k, v := range newState {
			if isUnknown(v) {
				newState[k] = nil
			}
		}
	}
	enc, encErr := encode(s, newState)
	if encErr != nil {
		resp.Diagnostics = append(resp.Diagnostics, errDiags(encErr)...)
		return resp, nil
	}
	resp.NewState = enc
	return resp, nil
}

func (p *provider) ImportResourceState(ctx context.Context, req *tfprotov5.ImportResourceStateRequest) (*tfprotov5.ImportResourceStateResponse, error) {
	resp := &tfprotov5.ImportResourceStateResponse{}
	r, s, err := p.resource(req.TypeName)
	if err != nil {
		resp.Diagnostics = errDiags(err)
		return resp, nil
	}
	if r.importState == nil {
		resp.Diagnostics = errDiags(fmt.Errorf("resource %s does not support import", req.TypeName))
		return resp, nil
	}
	state, err := r.importState(ctx, p, req.ID)
	if err != nil {
		resp.Diagnostics = errDiags(err)
		return resp, nil
	}
	dv, err := encode(s, state)
	if err != nil {
		resp.Diagnostics = errDiags(err)
		return resp, nil
	}
	resp.ImportedResources = []*tfprotov5.ImportedResource{{TypeName: req.TypeName, State: dv}}
	return resp, nil
}

func (p *provider) MoveResourceState(context.Context, *tfprotov5.MoveResourceStateRequest) (*tfprotov5.MoveResourceStateResponse, error) {
	return &tfprotov5.MoveResourceStateResponse{Diagnostics: errDiags(errors.New("moving resource state is not supported"))}, nil
}

func (p *provider) GenerateResourceConfig(context.Context, *tfprotov5.GenerateResourceConfigRequest) (*tfprotov5.GenerateResourceConfigResponse, error) {
	return &tfprotov5.GenerateResourceConfigResponse{Diagnostics: errDiags(errors.New("generating resource configuration is not supported"))}, nil
}

// ---- data sources ----

func (p *provider) ValidateDataSourceConfig(ctx context.Context, req *tfprotov5.ValidateDataSourceConfigRequest) (*tfprotov5.ValidateDataSourceConfigResponse, error) {
	d, ok := p.dataSources[req.TypeName]
	if !ok {
		return &tfprotov5.ValidateDataSourceConfigResponse{Diagnostics: errDiags(fmt.Errorf("unknown data source %q", req.TypeName))}, nil
	}
	cfg, err := decode(p.schemas.DataSources[req.TypeName], req.Config)
	if err != nil {
		return &tfprotov5.ValidateDataSourceConfigResponse{Diagnostics: errDiags(err)}, nil
	}
	resp := &tfprotov5.ValidateDataSourceConfigResponse{}
	if d.validate != nil {
		resp.Diagnostics = d.validate(cfg)
	}
	return resp, nil
}

func (p *provider) ReadDataSource(ctx context.Context, req *tfprotov5.ReadDataSourceRequest) (*tfprotov5.ReadDataSourceResponse, error) {
	resp := &tfprotov5.ReadDataSourceResponse{}
	d, ok := p.dataSources[req.TypeName]
	if !ok {
		resp.Diagnostics = errDiags(fmt.Errorf("unknown data source %q", req.TypeName))
		return resp, nil
	}
	s := p.schemas.DataSources[req.TypeName]
	cfg, err := decode(s, req.Config)
	if err != nil {
		resp.Diagnostics = errDiags(err)
		return resp, nil
	}
	state, err := d.read(ctx, p, cfg)
	if err != nil {
		resp.Diagnostics = errDiags(err)
		return resp, nil
	}
	// A data source result must be wholly known.
	for k, v := range state {
		if isUnknown(v) {
			state[k] = nil
		}
	}
	if resp.State, err = encode(s, state); err != nil {
		resp.Diagnostics = errDiags(err)
	}
	return resp, nil
}

// ---- unsupported protocol features ----

func (p *provider) CallFunction(context.Context, *tfprotov5.CallFunctionRequest) (*tfprotov5.CallFunctionResponse, error) {
	return &tfprotov5.CallFunctionResponse{Error: &tfprotov5.FunctionError{Text: "this provider has no functions"}}, nil
}

func (p *provider) GetFunctions(context.Context, *tfprotov5.GetFunctionsRequest) (*tfprotov5.GetFunctionsResponse, error) {
	return &tfprotov5.GetFunctionsResponse{Functions: map[string]*tfprotov5.Function{}}, nil
}

func (p *provider) ValidateEphemeralResourceConfig(context.Context, *tfprotov5.ValidateEphemeralResourceConfigRequest) (*tfprotov5.ValidateEphemeralResourceConfigResponse, error) {
	return &tfprotov5.ValidateEphemeralResourceConfigResponse{Diagnostics: errDiags(errors.New("this provider has no ephemeral resources"))}, nil
}

func (p *provider) OpenEphemeralResource(context.Context, *tfprotov5.OpenEphemeralResourceRequest) (*tfprotov5.OpenEphemeralResourceResponse, error) {
	return &tfprotov5.OpenEphemeralResourceResponse{Diagnostics: errDiags(errors.New("this provider has no ephemeral resources"))}, nil
}

func (p *provider) RenewEphemeralResource(context.Context, *tfprotov5.RenewEphemeralResourceRequest) (*tfprotov5.RenewEphemeralResourceResponse, error) {
	return &tfprotov5.RenewEphemeralResourceResponse{Diagnostics: errDiags(errors.New("this provider has no ephemeral resources"))}, nil
}

func (p *provider) CloseEphemeralResource(context.Context, *tfprotov5.CloseEphemeralResourceRequest) (*tfprotov5.CloseEphemeralResourceResponse, error) {
	return &tfprotov5.CloseEphemeralResourceResponse{}, nil
}

// httpClient returns the configured client.
func (p *provider) httpClient() (*http.Client, *Config, error) {
	c, err := p.cfg()
	if err != nil {
		return nil, nil, err
	}
	return c.Client, c, nil
}

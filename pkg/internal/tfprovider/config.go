package tfprovider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/invokerctl/invokerctl/pkg/internal/clock"
)

const cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

const defaultUniverseDomain = "googleapis.com"

// endpointSpec describes one custom endpoint setting the provider honours.
type endpointSpec struct {
	attr string   // provider attribute
	env  []string // environment fallbacks, in order
	host string   // default host prefix before the universe domain
	path string   // default version segment
}

var (
	epCloudRunV2 = endpointSpec{"cloud_run_v2_custom_endpoint", []string{"GOOGLE_CLOUD_RUN_V2_CUSTOM_ENDPOINT"}, "run", "v2/"}
	epIAM        = endpointSpec{"iam_custom_endpoint", []string{"GOOGLE_IAM_CUSTOM_ENDPOINT"}, "iam", "v1/"}
	epIAMBeta    = endpointSpec{"iam_beta_custom_endpoint", []string{"GOOGLE_IAM_BETA_CUSTOM_ENDPOINT"}, "iam", "v1/"}
	epIAMCreds   = endpointSpec{"iam_credentials_custom_endpoint", []string{"GOOGLE_IAM_CREDENTIALS_CUSTOM_ENDPOINT"}, "iamcredentials", "v1/"}
	epCRM        = endpointSpec{"resource_manager_custom_endpoint", []string{"GOOGLE_RESOURCE_MANAGER_CUSTOM_ENDPOINT"}, "cloudresourcemanager", "v1/"}
	epFunctions2 = endpointSpec{"cloudfunctions2_custom_endpoint", []string{"GOOGLE_CLOUDFUNCTIONS2_CUSTOM_ENDPOINT"}, "cloudfunctions", "v2/"}
)

// customEndpointRE is the real provider's rule: a custom endpoint ends with
// "/<segment>/".
var customEndpointRE = regexp.MustCompile(`.*/[^/]+/$`)

func validateCustomEndpoint(v string) error {
	if !customEndpointRE.MatchString(v) {
		return fmt.Errorf("%q must end with a version path segment and a trailing slash, like https://host/v1/", v)
	}
	return nil
}

// Config is the configured provider: where each API lives and how to
// authenticate.
type Config struct {
	Project        string
	Region         string
	Zone           string
	UniverseDomain string
	UserAgent      string

	// Base URLs, each ending in "/". The Run v2 and Cloud Functions v2 bases
	// include their version (generated REST code appends "projects/...");
	// the IAM and Resource Manager bases are roots without a version
	// (handwritten clients add "v1/").
	CloudRunV2BasePath      string
	Functions2BasePath      string
	IAMBasePath             string
	IAMCredentialsBasePath  string
	ResourceManagerBasePath string

	// Client is the authenticated HTTP client with transient-error retries.
	Client *http.Client
}

// predictEmails reports whether the provider may predict service account
// emails at plan time (only in the default universe, like the real one).
func (c *Config) predictEmails() bool {
	return c.UniverseDomain == "" || c.UniverseDomain == defaultUniverseDomain
}

// firstEnv returns the first non-empty environment variable among names.
func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// endpointValue returns the configured value of an endpoint attribute or
// its environment fallback, validated.
func endpointValue(cfg map[string]any, spec endpointSpec) (string, error) {
	v := str(cfg, spec.attr)
	if v == "" {
		v = firstEnv(spec.env...)
	}
	if v == "" {
		return "", nil
	}
	if err := validateCustomEndpoint(v); err != nil {
		return "", fmt.Errorf("%s: %w", spec.attr, err)
	}
	return v, nil
}

// defaultBase is the real Google endpoint for spec in the universe.
func defaultBase(spec endpointSpec, universe string) string {
	if universe == "" {
		universe = defaultUniverseDomain
	}
	return "https://" + spec.host + "." + universe + "/" + spec.path
}

// stripVersion turns "http://h:p/v1/" into "http://h:p/": the handwritten
// clients drop the last path segment and add their own version.
func stripVersion(v string) string {
	t := strings.TrimSuffix(v, "/")
	if i := strings.LastIndex(t, "/"); i >= 0 {
		return t[:i+1]
	}
	return v
}

// configOptions are the hooks tests use to observe or replace waiting and
// the HTTP stack.
type configOptions struct {
	// sleep is the provider's own waits, scaled by SleepScaleEnv;
	// floorSleep the waits a server asked for (Retry-After), never
	// scaled. See withDefaults.
	sleep       sleeper
	floorSleep  sleeper
	retry       retryPolicy
	baseRT      http.RoundTripper
	terraformUA string
}

// withDefaults fills in the sleepers: with neither set, the scaled real
// sleep and the unscaled floor; a test that sets only sleep (a recorder)
// sees every wait through it. newProvider and newConfig both call it, so
// the provider Terraform runs gets the same floor as a Config built
// directly.
func (o configOptions) withDefaults() configOptions {
	switch {
	case o.sleep == nil:
		o.sleep = realSleep
		if o.floorSleep == nil {
			o.floorSleep = clock.Sleep
		}
	case o.floorSleep == nil:
		o.floorSleep = o.sleep
	}
	return o
}

// newConfig builds the provider configuration from the provider block.
func newConfig(ctx context.Context, cfg map[string]any, opts configOptions) (*Config, error) {
	c := &Config{
		Project:        str(cfg, "project"),
		Region:         str(cfg, "region"),
		Zone:           str(cfg, "zone"),
		UniverseDomain: str(cfg, "universe_domain"),
	}
	if c.Project == "" {
		c.Project = firstEnv("GOOGLE_PROJECT", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT")
	}
	if c.Region == "" {
		c.Region = firstEnv("GOOGLE_REGION", "GCLOUD_REGION", "CLOUDSDK_COMPUTE_REGION")
	}
	if c.Zone == "" {
		c.Zone = firstEnv("GOOGLE_ZONE", "GCLOUD_ZONE", "CLOUDSDK_COMPUTE_ZONE")
	}
	c.Region = lastSegment(c.Region)

	// Endpoints.
	run, err := endpointValue(cfg, epCloudRunV2)
	if err != nil {
		return nil, err
	}
	if run == "" {
		run = defaultBase(epCloudRunV2, c.UniverseDomain)
	}
	c.CloudRunV2BasePath = run

	fn, err := endpointValue(cfg, epFunctions2)
	if err != nil {
		return nil, err
	}
	if fn == "" {
		fn = defaultBase(epFunctions2, c.UniverseDomain)
	}
	c.Functions2BasePath = fn

	// google_service_account and friends read the iambeta product's endpoint
	// since v7.30.0; iam_custom_endpoint is still accepted as a fallback.
	iamBeta, err := endpointValue(cfg, epIAMBeta)
	if err != nil {
		return nil, err
	}
	iamV1, err := endpointValue(cfg, epIAM)
	if err != nil {
		return nil, err
	}
	iam := iamBeta
	if iam == "" {
		iam = iamV1
	}
	if iam == "" {
		iam = defaultBase(epIAMBeta, c.UniverseDomain)
	}
	c.IAMBasePath = stripVersion(iam)

	creds, err := endpointValue(cfg, epIAMCreds)
	if err != nil {
		return nil, err
	}
	if creds == "" {
		creds = defaultBase(epIAMCreds, c.UniverseDomain)
	}
	c.IAMCredentialsBasePath = stripVersion(creds)

	crm, err := endpointValue(cfg, epCRM)
	if err != nil {
		return nil, err
	}
	if crm == "" {
		crm = defaultBase(epCRM, c.UniverseDomain)
	}
	c.ResourceManagerBasePath = stripVersion(crm)

	// Every other *_custom_endpoint is accepted; validate the ones set.
	for k, v := range cfg {
		if s, ok := v.(string); ok && s != "" && strings.HasSuffix(k, "_custom_endpoint") {
			if err := validateCustomEndpoint(s); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
	}

	// Credentials.
	ts, err := tokenSource(ctx, cfg)
	if err != nil {
		return nil, err
	}

	opts = opts.withDefaults()
	if opts.retry.MaxAttempts == 0 {
		opts.retry = defaultRetryPolicy
	}
	base := opts.baseRT
	if base == nil {
		base = http.DefaultTransport
	}
	ua := fmt.Sprintf("%s terraform-provider-google/%s", strings.TrimSpace(opts.terraformUA), Version)
	ht := &headerTransport{
		base:          &retryTransport{base: base, policy: opts.retry, sleep: opts.sleep, floorSleep: opts.floorSleep},
		tokens:        ts,
		userAgent:     strings.TrimSpace(ua),
		requestReason: firstNonEmpty(str(cfg, "request_reason"), os.Getenv("CLOUDSDK_CORE_REQUEST_REASON")),
	}
	override := boolean(cfg, "user_project_override")
	if _, set := cfg["user_project_override"].(bool); !set {
		override = os.Getenv("USER_PROJECT_OVERRIDE") == "true"
	}
	if override {
		ht.userProject = firstNonEmpty(str(cfg, "billing_project"), os.Getenv("GOOGLE_BILLING_PROJECT"))
	}
	timeout := 120 * time.Second
	if rt := str(cfg, "request_timeout"); rt != "" {
		d, err := time.ParseDuration(rt)
		if err != nil {
			return nil, fmt.Errorf("request_timeout: %w", err)
		}
		timeout = d
	}
	c.Client = &http.Client{Transport: ht, Timeout: timeout}
	c.UserAgent = ht.userAgent
	return c, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// lastSegment returns the part after the last "/" (self links to names).
func lastSegment(s string) string {
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// tokenSource picks credentials the way the real provider does: an access
// token first, then credentials (a key file path or its JSON contents),
// then Application Default Credentials.
func tokenSource(ctx context.Context, cfg map[string]any) (oauth2.TokenSource, error) {
	scopes := strList(cfg, "scopes")
	if len(scopes) == 0 {
		scopes = []string{cloudPlatformScope, "https://www.googleapis.com/auth/userinfo.email"}
	}
	accessToken := str(cfg, "access_token")
	creds := str(cfg, "credentials")
	if accessToken == "" && creds == "" {
		accessToken = os.Getenv("GOOGLE_OAUTH_ACCESS_TOKEN")
		if accessToken == "" {
			creds = firstEnv("GOOGLE_CREDENTIALS", "GOOGLE_CLOUD_KEYFILE_JSON", "GCLOUD_KEYFILE_JSON")
		}
	}
	if str(cfg, "impersonate_service_account") != "" {
		return nil, fmt.Errorf("impersonate_service_account is not supported by this provider build")
	}
	if accessToken != "" {
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessToken, TokenType: "Bearer"}), nil
	}
	if creds != "" {
		data := []byte(creds)
		if !strings.HasPrefix(strings.TrimSpace(creds), "{") {
			b, err := os.ReadFile(creds)
			if err != nil {
				return nil, fmt.Errorf("reading credentials file: %w", err)
			}
			data = b
		}
		var kind struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(data, &kind); err != nil {
			return nil, fmt.Errorf("parsing credentials: not a JSON key file: %w", err)
		}
		if kind.Type != "service_account" {
			// authorized_user and other credential files.
			gc, err := google.CredentialsFromJSON(context.WithoutCancel(ctx), data, scopes...)
			if err != nil {
				return nil, fmt.Errorf("parsing credentials: %w", err)
			}
			return gc.TokenSource, nil
		}
		// The JWT-bearer exchange goes to the key's token_uri.
		jc, err := google.JWTConfigFromJSON(data, scopes...)
		if err != nil {
			return nil, fmt.Errorf("parsing credentials: %w", err)
		}
		return oauth2.ReuseTokenSource(nil, jc.TokenSource(context.WithoutCancel(ctx))), nil
	}
	dc, err := google.FindDefaultCredentials(context.WithoutCancel(ctx), scopes...)
	if err != nil {
		return nil, fmt.Errorf("no credentials: set access_token or credentials in the provider block, or GOOGLE_OAUTH_ACCESS_TOKEN, or Application Default Credentials: %w", err)
	}
	return dc.TokenSource, nil
}

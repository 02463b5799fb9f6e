// Package tfprovider is an offline build of the part of the hashicorp/google
// Terraform provider (v8.0.0) that invokerctl's modules use. It is a real
// provider speaking plugin protocol v5: it talks REST to whatever endpoints
// the provider block (or the GOOGLE_*_CUSTOM_ENDPOINT variables) names, so it
// works against Google or against any server speaking these APIs, such as
// the project's emulator.
//
// Schemas are built from the real provider's `terraform providers schema
// -json` output (schema.json), so configurations and state are
// interchangeable with the real provider for:
//
//	resources:    google_service_account
//	              google_cloud_run_v2_service_iam_member, _binding, _policy
//	              google_project_iam_member
//	              google_service_account_iam_member, _binding
//	data sources: google_cloud_run_v2_service, google_cloud_run_v2_service_iam_policy,
//	              google_cloudfunctions2_function, google_iam_policy,
//	              google_project, google_service_account
//
// Behaviour follows the real provider: resource ids and import formats, the
// IAM read-modify-write loop (etag, policy version 3, 409/412 back-off of 1,
// 2, 4, 8 and 16 s then "Too many conflicts", a per-process lock per
// resource), member normalization and validation, diff suppression, email
// prediction at plan time, the service account consistency poll, HTTP-level
// retries of 429/500/502/503 with Retry-After. Like the SDK-based original it
// announces the legacy type system to Terraform.
//
// Deliberate differences: the 10 s sleep after creating a service account
// and the 5 s sleep after patching one are skipped (the consistency polls
// remain); project IAM changes are not batched; the post-write IAM
// propagation check really compares policies; impersonate_service_account is
// refused; google_project does not call the billing API (billing_account is
// null). Every provider-side wait can be scaled with SleepScaleEnv.
//
// The invokerctl executable serves this provider when started under a name
// beginning with "terraform-provider-google"; InstallMirror and CLIConfig
// install it for Terraform through a filesystem mirror.
package tfprovider

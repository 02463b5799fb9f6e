output "caller_email" {
  description = "Email of the caller account to impersonate."
  value       = module.cloud_run_invokers.service_account_emails["caller"]
}

output "service_account_emails" {
  description = "Email of each created service account, keyed by short name."
  value       = module.cloud_run_invokers.service_account_emails
}

output "token_creator_bindings" {
  description = "The roles/iam.serviceAccountTokenCreator grants on the created accounts."
  value       = module.cloud_run_invokers.token_creator_bindings
}

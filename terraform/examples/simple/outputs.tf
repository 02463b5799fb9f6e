output "caller_email" {
  description = "Email of the created caller account."
  value       = module.cloud_run_invokers.service_account_emails["caller"]
}

output "service_account_emails" {
  description = "Email of each created service account, keyed by short name."
  value       = module.cloud_run_invokers.service_account_emails
}

output "invoker_members" {
  description = "The roles/run.invoker members the module manages, keyed \"GRANT|MEMBER\"."
  value       = module.cloud_run_invokers.invoker_members
}

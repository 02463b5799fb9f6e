output "service_account_emails" {
  description = "Email of each created service account, keyed by short name."
  value       = module.cloud_run_invokers.service_account_emails
}

output "invoker_members" {
  description = "The whole roles/run.invoker list of the service, as the binding sets it."
  value       = module.cloud_run_invokers.invoker_bindings["service"].members
}

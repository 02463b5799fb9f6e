output "service_account_emails" {
  description = "Email of each created service account, keyed by short name."
  value       = module.cloud_run_invokers.service_account_emails
}

output "backing_service" {
  description = "The Cloud Run service that backs the function, where the grant lands."
  value       = module.cloud_run_invokers.target_services["function"].service
}

output "invoker_members" {
  description = "The roles/run.invoker members the module manages, keyed \"GRANT|MEMBER\"."
  value       = module.cloud_run_invokers.invoker_members
}

output "service_account_emails" {
  description = "Email of each created service account, keyed like var.service_accounts."
  value       = { for k, sa in google_service_account.this : k => sa.email }
}

output "service_account_members" {
  description = "IAM member (serviceAccount:EMAIL) of each created service account, keyed like var.service_accounts."
  value       = { for k, sa in google_service_account.this : k => sa.member }
}

output "target_services" {
  description = "The Cloud Run service each grant lands on (a function's backing service for function grants), keyed like var.invoker_grants: {project, location, service, function}."
  value = {
    for k, g in local.grants : k => {
      project  = var.project_id
      location = g.location
      service  = local.target_services[k]
      function = g.function
    }
  }
}

output "invoker_members" {
  description = "Every roles/run.invoker member this module manages through google_cloud_run_v2_service_iam_member (non-authoritative grants), keyed \"GRANT|MEMBER\": {grant, project, location, service, role, member}."
  value = {
    for k, r in google_cloud_run_v2_service_iam_member.this : k => {
      grant    = local.member_grants[k].grant
      project  = r.project
      location = r.location
      # The provider may store the service's full resource name.
      service = reverse(split("/", r.name))[0]
      role    = r.role
      member  = r.member
    }
  }
}

output "invoker_bindings" {
  description = "Every authoritative roles/run.invoker binding this module manages through google_cloud_run_v2_service_iam_binding, keyed like var.invoker_grants: {project, location, service, role, members}."
  value = {
    for k, r in google_cloud_run_v2_service_iam_binding.this : k => {
      project  = r.project
      location = r.location
      service  = reverse(split("/", r.name))[0]
      role     = r.role
      members  = sort(tolist(r.members))
    }
  }
}

output "token_creator_bindings" {
  description = "roles/iam.serviceAccountTokenCreator grants on the created accounts, keyed like var.service_accounts: {service_account, role, member}."
  value = {
    for k, r in google_service_account_iam_member.token_creator : k => {
      service_account = r.service_account_id
      role            = r.role
      member          = r.member
    }
  }
}

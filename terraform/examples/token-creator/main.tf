provider "google" {
  project = var.project_id
  region  = var.region
}

# The caller account is granted roles/run.invoker, and the identity that runs
# smoke tests (a CI account, a developer) is granted
# roles/iam.serviceAccountTokenCreator on it, so it can mint the caller's ID
# tokens by impersonation and call the service as the caller.
module "cloud_run_invokers" {
  source = "../../modules/cloud-run-invokers"

  project_id = var.project_id

  service_accounts = {
    caller = {
      account_id   = var.caller_account_id
      display_name = "Calls ${var.service_name}"
      description  = "Smoke tests impersonate this account."
    }
  }

  invoker_grants = {
    service = {
      service  = var.service_name
      location = var.region
      members  = ["caller"]
    }
  }

  token_creator_member = var.smoke_test_member
}

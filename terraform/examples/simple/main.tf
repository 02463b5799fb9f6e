provider "google" {
  project = var.project_id
  region  = var.region
}

# One new caller account, granted roles/run.invoker on one Cloud Run service.
# Member mode (the default): members granted elsewhere on the service stay.
module "cloud_run_invokers" {
  source = "../../modules/cloud-run-invokers"

  project_id = var.project_id

  service_accounts = {
    caller = {
      account_id   = var.caller_account_id
      display_name = "Calls ${var.service_name}"
    }
  }

  invoker_grants = {
    service = {
      service  = var.service_name
      location = var.region
      members  = ["caller"]
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

# Terraform owns the whole roles/run.invoker list of the service: the new
# caller account and var.members hold it, and anyone granted elsewhere is
# removed at apply (and everyone, when the binding is destroyed).
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
      service       = var.service_name
      location      = var.region
      members       = concat(["caller"], var.members)
      authoritative = true
    }
  }
}

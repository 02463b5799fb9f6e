provider "google" {
  project = var.project_id
  region  = var.region
}

# A Cloud Run function (2nd gen) is invoked through the Cloud Run service that
# backs it: the module reads the function and grants roles/run.invoker on that
# service (roles/cloudfunctions.invoker only covers 1st gen functions).
module "cloud_run_invokers" {
  source = "../../modules/cloud-run-invokers"

  project_id = var.project_id

  service_accounts = {
    caller = {
      account_id   = var.caller_account_id
      display_name = "Calls function ${var.function_name}"
    }
  }

  invoker_grants = {
    function = {
      function = var.function_name
      location = var.region
      members  = ["caller"]
    }
  }
}

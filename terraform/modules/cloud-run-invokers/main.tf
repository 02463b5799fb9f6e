locals {
  invoker_role = "roles/run.invoker"

  # Members of created accounts are predicted from the account id, exactly as
  # IAM forms them ({account_id}@{project}.iam.gserviceaccount.com). Unlike
  # google_service_account.member, they are known at plan time in every
  # universe, so plans always show the members they will grant.
  account_members = {
    for k, sa in var.service_accounts :
    k => "serviceAccount:${sa.account_id}@${var.project_id}.iam.gserviceaccount.com"
  }

  grants = {
    for k, g in var.invoker_grants : k => merge(g, {
      members = [for m in g.members : lookup(local.account_members, m, m)]
    })
  }

  function_grants = { for k, g in local.grants : k => g if g.function != null }

  # The Cloud Run service behind each grant. A 2nd gen function reports its
  # service as projects/P/locations/L/services/S; the last segment is the name.
  target_services = {
    for k, g in local.grants : k => (
      g.service != null ? g.service : element(
        split("/", data.google_cloudfunctions2_function.target[k].service_config[0].service),
        length(split("/", data.google_cloudfunctions2_function.target[k].service_config[0].service)) - 1
      )
    )
  }

  member_grants = merge([
    for k, g in local.grants : {
      for m in g.members : "${k}|${m}" => {
        grant    = k
        location = g.location
        member   = m
      }
    } if !g.authoritative
  ]...)

  binding_grants = { for k, g in local.grants : k => g if g.authoritative }
}

resource "google_service_account" "this" {
  for_each = var.service_accounts

  project      = var.project_id
  account_id   = each.value.account_id
  display_name = each.value.display_name
  description  = each.value.description

  # An apply that dies after IAM created an account but before Terraform
  # recorded it in state would otherwise make every later apply fail with
  # "409 already exists". With this set, the provider adopts the existing
  # account with the same id instead (it does not change its display_name
  # or description; the next plan shows any difference as an update).
  create_ignore_already_exists = true
}

# Cloud Run functions (2nd gen) are invoked through the Cloud Run service that
# backs them: roles/run.invoker on that service is what lets a caller in.
# roles/cloudfunctions.invoker only covers 1st gen functions.
data "google_cloudfunctions2_function" "target" {
  for_each = local.function_grants

  project  = var.project_id
  location = each.value.location
  name     = each.value.function
}

# Non-authoritative: one member at a time; members granted elsewhere stay.
resource "google_cloud_run_v2_service_iam_member" "this" {
  for_each = local.member_grants

  project  = var.project_id
  location = each.value.location
  name     = local.target_services[each.value.grant]
  role     = local.invoker_role
  member   = each.value.member

  lifecycle {
    precondition {
      condition     = strcontains(each.value.member, ":") || contains(["allUsers", "allAuthenticatedUsers"], each.value.member)
      error_message = "Member ${each.value.member} is neither an IAM member nor a key of service_accounts."
    }
  }

  # The accounts must exist before IAM accepts them as members; on destroy the
  # grants go first, so no deleted:serviceAccount: member is left behind.
  depends_on = [google_service_account.this]
}

# Authoritative: Terraform owns the whole roles/run.invoker list of the target.
resource "google_cloud_run_v2_service_iam_binding" "this" {
  for_each = local.binding_grants

  project  = var.project_id
  location = each.value.location
  name     = local.target_services[each.key]
  role     = local.invoker_role
  members  = each.value.members

  lifecycle {
    precondition {
      condition     = alltrue([for m in each.value.members : strcontains(m, ":") || contains(["allUsers", "allAuthenticatedUsers"], m)])
      error_message = "Every member must be an IAM member or a key of service_accounts."
    }
  }

  # When a grant switches from member mode to authoritative mode in one apply,
  # its old member resources are destroyed and the binding created. Deleting a
  # member after the binding was written would take that member out of the
  # list the binding just set, so the binding waits for every member
  # resource's changes, destroys included.
  depends_on = [google_service_account.this, google_cloud_run_v2_service_iam_member.this]
}

resource "google_service_account_iam_member" "token_creator" {
  for_each = var.token_creator_member == null ? {} : var.service_accounts

  service_account_id = google_service_account.this[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = var.token_creator_member
}

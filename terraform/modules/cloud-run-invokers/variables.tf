variable "project_id" {
  description = "Project that holds the service accounts and the Cloud Run services and functions."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project id: 6-30 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "service_accounts" {
  description = "Service accounts to create, keyed by a short name that invoker_grants members may use in place of a full IAM member."
  type = map(object({
    account_id   = string
    display_name = optional(string, "")
    description  = optional(string, "")
  }))
  default = {}

  validation {
    condition = alltrue([
      for sa in values(var.service_accounts) :
      length(sa.account_id) >= 6 && length(sa.account_id) <= 30 && can(regex("^[a-z]([-a-z0-9]*[a-z0-9])$", sa.account_id))
    ])
    error_message = "Each account_id must be 6-30 characters and match ^[a-z]([-a-z0-9]*[a-z0-9])$."
  }

  validation {
    condition     = length(distinct([for sa in values(var.service_accounts) : sa.account_id])) == length(var.service_accounts)
    error_message = "account_id values must be unique."
  }

  validation {
    condition     = alltrue([for k in keys(var.service_accounts) : can(regex("^[a-z][-a-z0-9]*$", k))])
    error_message = "service_accounts keys (short names) must be lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "invoker_grants" {
  description = <<-EOT
    roles/run.invoker grants, keyed by any stable identifier (invokerctl uses "service/LOCATION/NAME" and
    "function/LOCATION/NAME"). Set exactly one of service (a Cloud Run service) or function (a Cloud Run function,
    2nd gen: the grant lands on the Cloud Run service that backs it). members are IAM members (user:, serviceAccount:,
    group:, domain:, principal://, principalSet://, allUsers, allAuthenticatedUsers) or keys of service_accounts.
    authoritative = true manages the whole invoker list of the target with google_cloud_run_v2_service_iam_binding
    (members granted elsewhere are removed); false adds members one by one with google_cloud_run_v2_service_iam_member
    and never touches the others.
  EOT
  type = map(object({
    service       = optional(string)
    function      = optional(string)
    location      = string
    members       = list(string)
    authoritative = optional(bool, false)
  }))
  default = {}

  validation {
    condition     = alltrue([for g in values(var.invoker_grants) : (g.service == null) != (g.function == null)])
    error_message = "Each grant sets exactly one of service or function."
  }

  validation {
    condition     = alltrue([for g in values(var.invoker_grants) : can(regex("^[a-z]+(-[a-z]+)+[0-9]{1,2}$", g.location))])
    error_message = "Each grant location must be a region such as us-central1."
  }

  validation {
    condition     = alltrue([for g in values(var.invoker_grants) : length(g.members) > 0 && length(distinct(g.members)) == length(g.members)])
    error_message = "Each grant needs at least one member, each listed once."
  }

  validation {
    condition = alltrue(flatten([
      for g in values(var.invoker_grants) : [
        for m in g.members :
        contains(["allUsers", "allAuthenticatedUsers"], m) ||
        can(regex("^[a-z][-a-z0-9]*$", m)) ||
        can(regex("^(user|group|serviceAccount):[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$", m)) ||
        can(regex("^serviceAccount:(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]\\.svc\\.id\\.goog\\[[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?/[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?\\]$", m)) ||
        can(regex("^domain:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$", m)) ||
        can(regex("^principal://iam\\.googleapis\\.com/(?:locations/global/workforcePools/[a-z0-9](?:[a-z0-9.:-]*[a-z0-9])?|projects/[0-9]+/locations/global/workloadIdentityPools/[a-z0-9](?:[a-z0-9.:-]*[a-z0-9])?)/subject/\\S+$", m)) ||
        can(regex("^principalSet://(?:iam\\.googleapis\\.com/(?:locations/global/workforcePools/[a-z0-9](?:[a-z0-9.:-]*[a-z0-9])?/(?:group/[^/\\s]+|attribute\\.[A-Za-z0-9_]+/\\S+|\\*)|projects/[0-9]+/locations/global/workloadIdentityPools/[a-z0-9](?:[a-z0-9.:-]*[a-z0-9])?/(?:group/[^/\\s]+|attribute\\.[A-Za-z0-9_]+/\\S+|\\*|namespace/[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?|kubernetes\\.cluster/https://container\\.googleapis\\.com/v1/projects/\\S+))|cloudresourcemanager\\.googleapis\\.com/(?:projects|folders|organizations)/[0-9]+/type/ServiceAccount)$", m))
      ]
    ]))
    error_message = "Members must be IAM members (user:, serviceAccount:, group:, domain:, principal://, principalSet://, allUsers, allAuthenticatedUsers) or keys of service_accounts."
  }

}

variable "token_creator_member" {
  description = "IAM member (e.g. the identity that runs smoke tests) granted roles/iam.serviceAccountTokenCreator on every created account, so it can mint their ID tokens by impersonation. null grants nothing."
  type        = string
  default     = null

  validation {
    condition = var.token_creator_member == null || (
      can(regex("^(user|group|serviceAccount):[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$", var.token_creator_member)) ||
      can(regex("^serviceAccount:(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]\\.svc\\.id\\.goog\\[[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?/[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?\\]$", var.token_creator_member)) ||
      can(regex("^domain:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$", var.token_creator_member)) ||
      can(regex("^principal://iam\\.googleapis\\.com/(?:locations/global/workforcePools/[a-z0-9](?:[a-z0-9.:-]*[a-z0-9])?|projects/[0-9]+/locations/global/workloadIdentityPools/[a-z0-9](?:[a-z0-9.:-]*[a-z0-9])?)/subject/\\S+$", var.token_creator_member)) ||
      can(regex("^principalSet://(?:iam\\.googleapis\\.com/(?:locations/global/workforcePools/[a-z0-9](?:[a-z0-9.:-]*[a-z0-9])?/(?:group/[^/\\s]+|attribute\\.[A-Za-z0-9_]+/\\S+|\\*)|projects/[0-9]+/locations/global/workloadIdentityPools/[a-z0-9](?:[a-z0-9.:-]*[a-z0-9])?/(?:group/[^/\\s]+|attribute\\.[A-Za-z0-9_]+/\\S+|\\*|namespace/[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?|kubernetes\\.cluster/https://container\\.googleapis\\.com/v1/projects/\\S+))|cloudresourcemanager\\.googleapis\\.com/(?:projects|folders|organizations)/[0-9]+/type/ServiceAccount)$", var.token_creator_member))
    )
    error_message = "token_creator_member must be a single identity (user:, group:, serviceAccount:, domain:, principal://, principalSet://), never allUsers or allAuthenticatedUsers."
  }

}

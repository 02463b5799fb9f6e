variable "project_id" {
  description = "Project that holds the Cloud Run service and the new caller account."
  type        = string
}

variable "region" {
  description = "Region of the Cloud Run service."
  type        = string
  default     = "us-central1"
}

variable "service_name" {
  description = "Name of the existing Cloud Run service to grant roles/run.invoker on."
  type        = string
}

variable "caller_account_id" {
  description = "Account id of the service account to create and grant."
  type        = string
  default     = "smoke-caller"
}

variable "smoke_test_member" {
  description = "The identity that runs smoke tests (user:, group:, serviceAccount:, ...), granted roles/iam.serviceAccountTokenCreator on the caller account."
  type        = string
}

variable "project_id" {
  description = "Project that holds the function and the new caller account."
  type        = string
}

variable "region" {
  description = "Region of the function."
  type        = string
  default     = "us-central1"
}

variable "function_name" {
  description = "Name of the existing Cloud Run function (2nd gen) to grant roles/run.invoker on."
  type        = string
}

variable "caller_account_id" {
  description = "Account id of the service account to create and grant."
  type        = string
  default     = "function-caller"
}

package emulator

// This file holds the cross-boundary declarations of the two halves of the
// emulator while they are being written. Each owner MOVES its declarations
// into its real file (deleting them here) as it implements them; the file is
// deleted when empty.

// ---- owned by the management half: all implemented (init.go, policy.go,
// roles.go, auth.go, iam.go, iamcredentials.go, oauth.go, certs.go,
// metadata.go, crm.go, idtoken.go). Entry points for the run half:
//   e.authorize / e.authorizeResource (auth.go)        — management API checks
//   e.serveGetIamPolicy / serveSetIamPolicy /
//     serveTestIamPermissions, e.getPolicyResponse,
//     e.setPolicy, (*Policy).bindingsAt (policy.go)  — resource policies
//   e.principalPermitted / principalPermittedAt (roles.go)
//   e.verifyIDToken, e.mintIDToken (idtoken.go)
//   e.serviceAccountLocked, e.projectLocked, e.ensureProjectLocked,
//     e.saveLocked, randomHex, newEtag

// ---- owned by the run half (Run v2/v1/Knative, Functions v2, data plane, seed, serve) ----

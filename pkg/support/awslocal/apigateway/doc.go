// Package apigwlocal is a local Amazon API Gateway (REST APIs, v1) in pure Go: the test double that
// everything Rewind sends over the wire is tested against.
//
// The control plane (*Server, an http.Handler) speaks the same REST-JSON the real service does, so
// the real aws-sdk-go-v2 apigateway client, and the AWS CLI, can be pointed at it with BaseEndpoint
// or AWS_ENDPOINT_URL_API_GATEWAY and cannot tell the difference for the operations it implements:
// GetRestApis, GetRestApi, CreateRestApi, GetDeployments, GetDeployment, CreateDeployment,
// GetStages, GetStage, CreateStage, UpdateStage, DeleteStage, TagResource, UntagResource, GetTags,
// GetExport.
//
// On top of the wire it offers what a test needs and AWS does not: a Go API to arrange state
// (CreateRestAPI, CreateDeployment, CreateStage, SetDeploymentID, SetMethods) and read it back
// (Stage), fault injection per operation (throttles, 5xx, lost responses, reset connections, slow
// answers), the account's request-rate quota, and a record of every call (Calls, Writes): the
// awslocal.Recorder every local service shares.
//
// A deployment may carry its methods and their integrations (DeploymentSpec.Methods, or the API's
// methods from SetMethods, which a CreateDeployment over the wire snapshots): GetExport describes a
// stage's live deployment with them as OpenAPI 3.0 or Swagger 2.0, with x-amazon-apigateway-integration
// when asked, so a client can see which Lambda functions a stage calls and how. They describe; they
// do not route: the data plane serves a deployment from its Backend.
//
// DataPlane serves a stage's traffic from the http.Handler attached to its live deployment, with
// canary traffic split, so a demo can show a rollback changing what users get.
//
// Where AWS behaviour is mirrored, the comment next to it says where it was checked; where it
// could not be checked, the comment says so too.
package apigateway

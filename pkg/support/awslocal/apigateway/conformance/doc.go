// Package conformance checks the local API Gateway (pkg/support/awslocal/apigateway) against a client nobody on this
// team wrote: the AWS CLI v2, whose commands are generated from AWS's own API Gateway service model
// (botocore's apigateway/service-2.json). If the CLI reads and writes our sandbox correctly (the
// paths and methods of each operation, epoch-second dates, the position/limit paging tokens, the
// shape of patch operations, and errors with their x-amzn-ErrorType code and message) then the wire
// format that Rewind's SDK client is tested against is AWS's, not one invented for the tests.
//
// The package holds only tests. They run the CLI binary at /usr/bin/aws (awscli v2, from Debian's
// awscli package; set AWS_CLI_V2 to use another) against apigwlocal served by httptest on loopback,
// with no AWS configuration or credentials of the developer's.
//
// What it cannot show: that AWS answers the same way. The CLI accepts any answer its model can parse,
// so messages and status codes are only as right as apigwlocal's own comments say they were checked.
package conformance

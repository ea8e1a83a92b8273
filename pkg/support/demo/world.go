package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	cwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/cloudwatch"
	ddblocal "github.com/rewind-sre/rewind/pkg/support/awslocal/dynamodb"
	lambdalocal "github.com/rewind-sre/rewind/pkg/support/awslocal/lambda"
	"github.com/rewind-sre/rewind/pkg/support/demo/cloudwatch"
	"github.com/rewind-sre/rewind/pkg/support/demo/traffic"
)

// The seed's names: the API behind api.luna.com, its stage, and the two deployments of its history.
const (
	APIName      = "luna-api"
	StageName    = "service"
	LegacyID     = "dep1" // HTTP proxy to the EC2 origin (api-origin.luna.com)
	LambdaID     = "dep2" // the new Lambda api-user-id
	legacyLabel  = "EC2 proxy"
	lambdaLabel  = "new Lambda"
	legacyDesc   = "HTTP proxy to api-origin.luna.com (EC2)"
	lambdaDesc   = "Lambda api-user-id"
	userPathHelp = "/user/{id}"
	lambdaARN    = "arn:aws:lambda:" + region + ":" + account + ":function:api-user-id:live"
	// MemoryTable is Rewind's memory table in the demo's local DynamoDB.
	MemoryTable = "rewind-demo-memory"
	// FunctionName is Rewind's function (AWS_LAMBDA_FUNCTION_NAME under the emulator) in the demo's
	// local Lambda, and ReservedConcurrency its reservation there, the template's default.
	FunctionName        = "rewind"
	ReservedConcurrency = 2
)

func label(dep string) string {
	switch dep {
	case LegacyID:
		return legacyLabel
	case LambdaID:
		return lambdaLabel
	}
	return "?"
}

// world is everything the demo serves on loopback: the local API Gateway's control plane (what
// Rewind talks to) and data plane (what users call), the EC2 origin the legacy deployment proxies
// to, Rewind's memory in a local DynamoDB, and what {"action":"check"} reads of the account: the
// alarm in a local CloudWatch and Rewind's own function in a local Lambda.
type world struct {
	gw        *apigwlocal.Server
	ddb       *ddblocal.Server // Rewind's memory table, MemoryTable
	memory    string           // its base URL
	cw        *cwlocal.Server  // the demo's alarm, AlarmName
	alarms    string           // its base URL
	lam       *lambdalocal.Server
	lambda    string // its base URL
	apiID     string
	control   string // control plane base URL
	data      string // data plane base URL
	originURL string
	addrs     []string // every address listened on, to check they are closed at the end
	stops     []func(context.Context) error
}

// serve runs h on addr until the returned stop is called.
func serve(addr string, h http.Handler) (base string, stop func(context.Context) error, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	var once sync.Once
	var stopErr error
	stop = func(ctx context.Context) error {
		once.Do(func() {
			if stopErr = srv.Shutdown(ctx); stopErr != nil {
				_ = srv.Close()
			}
			if err := <-done; !errors.Is(err, http.ErrServerClosed) && stopErr == nil {
				stopErr = err
			}
		})
		return stopErr
	}
	return "http://" + ln.Addr().String(), stop, nil
}

// newWorld starts the origin, the API Gateway (control plane on a free port, data plane on
// dataPort, 0 for a free one) and arranges the API with the legacy deployment live on the stage; and
// Rewind's memory, CloudWatch holding alarm and Lambda holding Rewind's function, each on a free port.
func newWorld(dataPort int, start time.Time, alarm cloudwatch.Alarm) (*world, error) {
	w := &world{}
	ok := false
	defer func() {
		if !ok {
			w.stop(context.Background())
		}
	}()

	origin, stop, err := serve("127.0.0.1:0", http.HandlerFunc(serveOrigin))
	if err != nil {
		return nil, fmt.Errorf("EC2 origin: listen: %w", err)
	}
	w.track(origin, stop)
	w.originURL = origin

	w.gw = apigwlocal.New(apigwlocal.Options{Region: region, AccountID: account})
	control, stopCP, err := w.gw.Start("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("API Gateway control plane: listen: %w", err)
	}
	w.track(control, stopCP)
	w.control = control

	w.ddb = ddblocal.New(ddblocal.Options{})
	w.ddb.CreateTable(MemoryTable)
	memory, stopDB, err := serve("127.0.0.1:0", w.ddb)
	if err != nil {
		return nil, fmt.Errorf("DynamoDB (Rewind's memory): listen: %w", err)
	}
	w.track(memory, stopDB)
	w.memory = memory

	// What "check" reads of the account: the alarms that send to Rewind's topic, and its function's
	// reserved concurrency. Unserved, its SDK clients would retry a closed port for seconds.
	w.cw = cwlocal.New(cwlocal.Options{Region: region, Account: account})
	w.cw.PutMetricAlarm(metricAlarm(alarm))
	alarms, stopCW, err := serve("127.0.0.1:0", w.cw)
	if err != nil {
		return nil, fmt.Errorf("CloudWatch (the alarm): listen: %w", err)
	}
	w.track(alarms, stopCW)
	w.alarms = alarms

	w.lam = lambdalocal.New(nil)
	w.lam.CreateFunction(FunctionName)
	w.lam.SetReservedConcurrency(FunctionName, ReservedConcurrency)
	lambda, stopLambda, err := serve("127.0.0.1:0", w.lam)
	if err != nil {
		return nil, fmt.Errorf("local Lambda (Rewind's function): listen: %w", err)
	}
	w.track(lambda, stopLambda)
	w.lambda = lambda

	api := w.gw.CreateRestAPI(APIName)
	w.apiID = api.ID
	target, _ := url.Parse(origin)
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) },
		// What API Gateway answers when an HTTP integration cannot be reached, without a log line
		// for each request a stopping demo abandons.
		ErrorHandler: func(rw http.ResponseWriter, _ *http.Request, _ error) {
			writeJSON(rw, http.StatusBadGateway, map[string]string{"message": "Internal server error"})
		}}
	// The legacy deployment is old: it has served for a day when the demo starts.
	if _, err := w.gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{ID: LegacyID, Description: legacyDesc,
		CreatedDate: start.Add(-24 * time.Hour), Backend: tagged(proxy),
		Methods: []apigwlocal.Method{{Path: "/user/{id}", HTTPMethod: http.MethodGet,
			Integration: apigwlocal.Integration{Type: "HTTP_PROXY", URI: "https://api-origin.luna.com/user/{id}"}}}}); err != nil {
		return nil, fmt.Errorf("API Gateway: create deployment %s: %w", LegacyID, err)
	}
	if err := w.gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: StageName, DeploymentID: LegacyID,
		Description: "api.luna.com -> CloudFront -> this stage for " + userPathHelp}); err != nil {
		return nil, fmt.Errorf("API Gateway: create stage %s: %w", StageName, err)
	}
	data, stopDP, err := serve(fmt.Sprintf("127.0.0.1:%d", dataPort), w.gw.DataPlane(api.ID))
	if err != nil {
		return nil, fmt.Errorf("API Gateway data plane: listen on port %d: %w", dataPort, err)
	}
	w.track(data, stopDP)
	w.data = data
	ok = true
	return w, nil
}

// metricAlarm is the demo's alarm as CloudWatch describes it: the Sum of the stage's 5XXError over
// one period against the threshold, ALARM and OK actions to Rewind's topic, OK to begin with.
func metricAlarm(a cloudwatch.Alarm) cwlocal.Alarm {
	dims := make([]cwlocal.Dimension, len(a.Dimensions))
	for i, d := range a.Dimensions {
		dims[i] = cwlocal.Dimension{Name: d.Name, Value: d.Value}
	}
	cmp := a.Comparison
	if cmp == "" {
		cmp = cloudwatch.GreaterThanOrEqualToThreshold
	}
	return cwlocal.Alarm{Name: a.Name, Description: a.Description, Namespace: a.Namespace, MetricName: a.Metric,
		Dimensions: dims, Statistic: "Sum", Period: int32(a.Period / time.Second),
		EvaluationPeriods: int32(max(a.EvaluationPeriods, 1)), DatapointsToAlarm: int32(a.DatapointsToAlarm),
		Threshold: a.Threshold, ComparisonOperator: cmp, TreatMissingData: "notBreaching",
		AlarmActions: []string{a.TopicARN}, OKActions: []string{a.TopicARN}, State: cwlocal.StateOK}
}

func (w *world) track(base string, stop func(context.Context) error) {
	w.addrs = append(w.addrs, strings.TrimPrefix(base, "http://"))
	w.stops = append(w.stops, stop)
}

// release deploys the new Lambda and puts it live on the stage, as the seed's team did: a new
// deployment pointing /user/{id} at the Lambda, then "Change Deployment". The Lambda answers for
// failAfter and then fails every request with API Gateway's 502 for a broken Lambda integration.
func (w *world) release(now time.Time, failAfter time.Duration) error {
	failAt := now.Add(failAfter)
	backend := tagged(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if time.Now().Before(failAt) {
			writeJSON(rw, http.StatusOK, map[string]string{"id": userID(r), "servedBy": "Lambda api-user-id"})
			return
		}
		rw.Header().Set("x-amzn-ErrorType", "InternalServerErrorException")
		writeJSON(rw, http.StatusBadGateway, map[string]string{"message": "Internal server error"})
	}))
	// What GetExport describes of it ("check" reads it): the method calls the function's alias, which
	// a stage rollback can undo, not $LATEST.
	methods := []apigwlocal.Method{{Path: "/user/{id}", HTTPMethod: http.MethodGet, Integration: apigwlocal.LambdaProxy(region, lambdaARN)}}
	if _, err := w.gw.CreateDeployment(w.apiID, apigwlocal.DeploymentSpec{ID: LambdaID, Description: lambdaDesc, Backend: backend, Methods: methods}); err != nil {
		return fmt.Errorf("API Gateway: create deployment %s: %w", LambdaID, err)
	}
	if err := w.gw.SetDeploymentID(w.apiID, StageName, LambdaID); err != nil {
		return fmt.Errorf("API Gateway: stage %s -> %s: %w", StageName, LambdaID, err)
	}
	return nil
}

// live is the deployment the stage serves now.
func (w *world) live() string {
	st, ok := w.gw.Stage(w.apiID, StageName)
	if !ok {
		return ""
	}
	return st.DeploymentID
}

// switchedAt is when Rewind's UpdateStage reached the control plane, if it succeeded.
func (w *world) switchedAt() (at time.Time, ok bool) {
	// The last write: the scheduled observe wrote the stage's timeline before the release.
	for _, c := range w.gw.Calls() {
		if c.Op == "UpdateStage" && c.Status == http.StatusOK {
			at, ok = c.At, true
		}
	}
	return at, ok
}

// stop shuts every server down and reports what did not stop.
func (w *world) stop(ctx context.Context) error {
	var errs []error
	for i := len(w.stops) - 1; i >= 0; i-- {
		if err := w.stops[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	w.stops = nil
	return errors.Join(errs...)
}

// serveOrigin is the EC2 API server: GET /user/{id} answers the user.
func serveOrigin(rw http.ResponseWriter, r *http.Request) {
	id := userID(r)
	if r.Method != http.MethodGet || id == "" {
		writeJSON(rw, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	writeJSON(rw, http.StatusOK, map[string]string{"id": id, "servedBy": "EC2 api-origin.luna.com"})
}

func userID(r *http.Request) string {
	id, ok := strings.CutPrefix(r.URL.Path, "/user/")
	if !ok || strings.Contains(id, "/") {
		return ""
	}
	return id
}

// tagged says, in a response header, which deployment the data plane routed the request to, so the
// traffic driver can tell which deployment users got.
func tagged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if inv, ok := apigwlocal.InvocationFrom(r.Context()); ok {
			rw.Header().Set(traffic.DeploymentHeader, inv.DeploymentID)
		}
		h.ServeHTTP(rw, r)
	})
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}

package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// InfoPath is where the sandbox's invoke endpoint describes the sandbox (GET): how sandbox-event
// tells a running sandbox from anything else on the port, and what the test checks.
const InfoPath = "/rewind-sandbox"

// InvocationsPath is Lambda's Invoke API for the one function the emulator serves.
const InvocationsPath = "/2015-03-31/functions/function/invocations"

// Info is what GET InfoPath answers.
type Info struct {
	Sandbox   string            `json:"sandbox"` // always "rewind"
	PID       int               `json:"pid"`
	Invoke    string            `json:"invoke"`    // the endpoint for aws lambda invoke --endpoint-url
	Emulator  string            `json:"emulator"`  // the emulator's own Invoke API, behind Invoke
	Runtime   string            `json:"runtime"`   // the emulator's Runtime API, the bootstrap's AWS_LAMBDA_RUNTIME_API
	DataPlane string            `json:"dataPlane"` // the REST API's data plane; users call DataPlane/service/user/{id}
	Control   string            `json:"control"`   // every local AWS control plane, and Rewind's memory
	LogFile   string            `json:"logFile"`
	Bootstrap string            `json:"bootstrap"` // the bootstrap the emulator runs (removed when the sandbox stops)
	Targets   []string          `json:"targets"`   // TARGETS
	Account   string            `json:"account"`
	Region    string            `json:"region"`
	Live      map[string]string `json:"live"`   // what each target serves now
	Writes    int               `json:"writes"` // changes the control planes applied so far
	Listeners []string          `json:"listeners"`
}

// invokeFront is the sandbox's invoke endpoint: the emulator's Invoke API with what Lambda adds
// and the emulator does not.
//
//   - A failed invocation: Lambda answers 200 with X-Amz-Function-Error: Unhandled, so the AWS CLI
//     prints "FunctionError"; the emulator sends no such header. The front adds it whenever the
//     answer is Lambda's error shape (errorType/errorMessage).
//   - An init failure: Lambda answers 200, X-Amz-Function-Error and Runtime.ExitError; the emulator
//     answers 502 with an empty body. The front answers as Lambda does, with the init error the
//     bootstrap printed (it is in the log file too).
type invokeFront struct {
	proxy   *httputil.ReverseProxy
	info    func() Info
	logs    func() string // the emulator's and the bootstrap's output so far
	logFile string
	note    func(format string, args ...any) // a line in the log file
}

func newInvokeFront(emulator string, info func() Info, logs func() string, logFile string, note func(string, ...any)) (*invokeFront, error) {
	target, err := url.Parse(emulator)
	if err != nil {
		return nil, err
	}
	f := &invokeFront{info: info, logs: logs, logFile: logFile, note: note}
	f.proxy = &httputil.ReverseProxy{
		Rewrite:        func(r *httputil.ProxyRequest) { r.SetURL(target) },
		ModifyResponse: f.modify,
		ErrorHandler: func(rw http.ResponseWriter, r *http.Request, err error) {
			f.note("sandbox: the emulator did not answer %s %s: %v", r.Method, r.URL.Path, err)
			writeJSON(rw, http.StatusBadGateway, map[string]string{"message": fmt.Sprintf(
				"the Lambda emulator behind the sandbox did not answer (%v); its output is in %s", err, f.logFile)})
		},
	}
	return f, nil
}

func (f *invokeFront) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.URL.Path == InfoPath {
		writeJSON(rw, http.StatusOK, f.info())
		return
	}
	f.proxy.ServeHTTP(rw, r)
}

// maxAnswer is Lambda's limit on a synchronous answer.
const maxAnswer = 6 << 20

func (f *invokeFront) modify(resp *http.Response) error {
	if resp.Request == nil || resp.Request.URL.Path != InvocationsPath {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	resp.Body.Close()
	if err != nil {
		return err
	}
	switch {
	case resp.StatusCode == http.StatusBadGateway && len(bytes.TrimSpace(body)) == 0:
		initErr := f.initError()
		f.note("sandbox: the bootstrap's init failed; the emulator answered 502 with an empty body (%s)", initErr)
		body, _ = json.Marshal(map[string]string{
			"errorType": "Runtime.ExitError",
			"errorMessage": fmt.Sprintf("the bootstrap's init failed: %s (the emulator answers this with 502 and an empty body; the sandbox answers as Lambda does; the whole output is in %s)",
				initErr, f.logFile)})
		resp.StatusCode, resp.Status = http.StatusOK, "200 OK"
		resp.Header.Set("Content-Type", "application/json")
		resp.Header.Set("X-Amz-Function-Error", "Unhandled")
		resp.Header.Set("X-Sandbox-Emulator-Status", "502")
	case resp.StatusCode == http.StatusOK && resp.Header.Get("X-Amz-Function-Error") == "":
		if typ, msg, ok := functionError(body); ok {
			resp.Header.Set("X-Amz-Function-Error", "Unhandled")
			f.note("sandbox: invocation failed (the emulator answered 200 without X-Amz-Function-Error; the sandbox added it): %s: %s", typ, msg)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// functionError reads Lambda's error shape, {"errorType": ..., "errorMessage": ...}.
func functionError(body []byte) (typ, msg string, ok bool) {
	var fe struct {
		ErrorType    *string `json:"errorType"`
		ErrorMessage *string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &fe) != nil || (fe.ErrorType == nil && fe.ErrorMessage == nil) {
		return "", "", false
	}
	if fe.ErrorType != nil {
		typ = *fe.ErrorType
	}
	if fe.ErrorMessage != nil {
		msg = *fe.ErrorMessage
	}
	return typ, msg, true
}

// initError is the bootstrap's own account of its failed init: its "rewind: ..." line on stderr
// (functions/responder's fail), else the output's last line. It may be printed just after the
// emulator answers, so it is waited for a little.
func (f *invokeFront) initError() string {
	deadline := time.Now().Add(time.Second)
	for {
		logs := f.logs()
		if line := lastLineWith(logs, "rewind: "); line != "" {
			return line
		}
		if time.Now().After(deadline) {
			if line := lastLineWith(logs, ""); line != "" {
				return "the output's last line: " + line
			}
			return "it printed nothing"
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lastLineWith is the last non-empty line of s that starts with prefix.
func lastLineWith(s, prefix string) string {
	last := ""
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && strings.HasPrefix(line, prefix) {
			last = line
		}
	}
	return last
}

// Package dynamodb is a local Amazon DynamoDB for the part Rewind's memory uses: tables keyed by a
// string partition key and an optional string sort key, GetItem, PutItem, DeleteItem, UpdateItem
// (SET and REMOVE), Query and TransactWriteItems, in DynamoDB's JSON 1.0 wire format (POST /,
// X-Amz-Target: DynamoDB_20120810.<Op>, errors in __type with a correct X-Amz-Crc32), with the
// fault injection of pkg/support/awslocal. Its answers are held to moto_server's and dynalite's by the
// conformance test, and to AWS's documentation where those two differ.
//
// What it models of AWS: condition, key condition and filter expressions with comparisons,
// BETWEEN, attribute_exists, attribute_not_exists, begins_with, AND, OR, NOT and parentheses over
// top-level or map-member paths; #name and :value placeholders, each of which must be defined and
// used; DynamoDB's reserved words; numbers compared and added as exact decimals and written back
// trimmed (007.50 as 7.5); the 400 KB item limit; ReturnValues and
// ReturnValuesOnConditionCheckFailure; all-or-nothing transactions with their cancellation reasons
// and ClientRequestToken idempotency; Query pages that end with a LastEvaluatedKey whenever Limit
// stopped them. What it refuses, loudly, rather than answer unlike AWS: any other operation,
// request member or expression feature (Scan, indexes, ProjectionExpression, ADD and DELETE, list
// indexes, ...).
package dynamodb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/awslocal"
)

// Rewind's key schema, which CreateTable gives a table.
const (
	PartitionKey = "pk"
	SortKey      = "sk"
)

// Options configures a Server.
type Options struct {
	// Now is the clock for the call record and table creation times; nil is time.Now.
	Now func() time.Time
}

// Server is the local DynamoDB. It is safe for concurrent use; every call runs under one lock, so
// each is atomic as DynamoDB's single-item writes and transactions are.
type Server struct {
	*awslocal.Recorder
	now func() time.Time

	mu     sync.Mutex
	tables map[string]*table
	tokens map[string]done // TransactWriteItems' ClientRequestTokens
}

// New returns a server with no tables.
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Server{Recorder: awslocal.NewRecorder(o.Now, writeFault), now: o.Now,
		tables: map[string]*table{}, tokens: map[string]done{}}
}

// CreateTable adds an ACTIVE table with Rewind's key schema (pk and sk, both strings), as the
// template's table is. A table of that name already there is left as it is.
func (s *Server) CreateTable(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tables[name] == nil {
		s.tables[name] = newTable(name, PartitionKey, SortKey, s.now())
	}
}

// Item returns the item with this key, in DynamoDB JSON decoded generically ({"S": "x"},
// {"N": "42"}, {"M": {...}}: the form the AWS CLI prints, with no type lost), or false. sk is
// ignored for a table without a sort key.
func (s *Server) Item(table, pk, sk string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[table]
	if t == nil {
		return nil, false
	}
	if t.rng == "" {
		sk = ""
	}
	it, ok := t.items[pk][sk]
	if !ok {
		return nil, false
	}
	return plain(it), true
}

// Items counts the items of a table (0 for no table).
func (s *Server) Items(table string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tables[table]; t != nil {
		return t.count()
	}
	return 0
}

// targetPrefix is the X-Amz-Target of every call: the service and API version.
const targetPrefix = "DynamoDB_20120810."

// operation carries out one call: decode the body, answer. write marks operations that change
// state when they succeed.
type operation struct {
	run   func(s *Server, body []byte) (any, *apiError)
	write bool
}

var operations = map[string]operation{
	"CreateTable":        {(*Server).createTable, true},
	"DescribeTable":      {(*Server).describeTable, false},
	"DeleteTable":        {(*Server).deleteTable, true},
	"GetItem":            {(*Server).getItem, false},
	"PutItem":            {(*Server).putItem, true},
	"DeleteItem":         {(*Server).deleteItem, true},
	"UpdateItem":         {(*Server).updateItem, true},
	"Query":              {(*Server).query, false},
	"TransactWriteItems": {(*Server).transactWriteItems, true},
}

// maxRequest is DynamoDB's limit on a request body (a transaction of 100 items of 400 KB fits in it
// with room to spare).
const maxRequest = 16 << 20

// ServeHTTP is the DynamoDB endpoint (dynamodb.{region}.amazonaws.com).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/" {
		// What DynamoDB answers a GET, handy as a readiness probe.
		_, _ = io.WriteString(w, "healthy: dynamodb.us-east-1.amazonaws.com ")
		return
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	o, known := operations[op]
	if r.Method != http.MethodPost || !ok || !known {
		msg := "no such operation: " + r.Method + " X-Amz-Target " + r.Header.Get("X-Amz-Target")
		if ok {
			msg = "the local DynamoDB does not model " + op + " (pkg/support/awslocal/dynamodb)"
		}
		writeError(w, &apiError{status: http.StatusBadRequest, code: "UnknownOperationException", msg: msg})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
	if err != nil || len(body) > maxRequest {
		writeError(w, serialization(fmt.Sprintf("the request body could not be read within %d bytes", maxRequest)))
		return
	}
	s.Serve(withOp(w, op, body), r, op, func(w http.ResponseWriter) bool {
		out, aerr := o.run(s, body)
		if aerr != nil {
			writeError(w, aerr)
			return false
		}
		writeJSON(w, http.StatusOK, out)
		_, replay := out.(replayed)
		return o.write && !replay
	})
}

// decode reads a request into in, refusing members in lacks: a member Rewind might send that this
// server would otherwise ignore is an error, not a silent difference from AWS.
func decode(body []byte, in any) *apiError {
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	err := d.Decode(in)
	var aerr *apiError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &aerr):
		return aerr
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return notModeled("the request member " + strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return serialization(err.Error())
}

var requestIDs atomic.Int64

// writeJSON answers as DynamoDB does: JSON 1.0, a request id, and the CRC32 of the body that the
// SDKs check.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	b := []byte(`{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"the local DynamoDB could not encode its answer"}`)
	if err := enc.Encode(v); err == nil {
		b = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	} else {
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 10))
	h.Set("X-Amzn-Requestid", fmt.Sprintf("LOCAL%047d", requestIDs.Add(1)))
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, e *apiError) { writeJSON(w, e.status, e.body()) }

// opWriter carries the operation and its transaction size to writeFault, which the Recorder calls
// with the ResponseWriter given to Serve.
type opWriter struct {
	http.ResponseWriter
	op    string
	items int
}

// Unwrap lets the Recorder's reset reach the connection.
func (w *opWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func withOp(w http.ResponseWriter, op string, body []byte) *opWriter {
	ow := &opWriter{ResponseWriter: w, op: op}
	if op == "TransactWriteItems" {
		var in struct{ TransactItems []json.RawMessage }
		_ = json.Unmarshal(body, &in)
		ow.items = len(in.TransactItems)
	}
	return ow
}

// writeFault is the awslocal.ErrorWriter: DynamoDB's answer for an injected status.
func writeFault(w http.ResponseWriter, status int) {
	op, n := "", 0
	if ow, ok := w.(*opWriter); ok {
		op, n = ow.op, ow.items
	}
	writeError(w, faultError(op, n, status))
}

// Package cloudfront is a local CloudFront control plane for distributions, the part Rewind uses:
// GetDistribution, GetDistributionConfig and UpdateDistribution, in CloudFront's REST-XML wire
// format (namespace http://cloudfront.amazonaws.com/doc/2020-05-31/, ETag and If-Match headers,
// <ErrorResponse><Error><Code> errors), with the fault injection of pkg/support/awslocal.
//
// The configuration is kept as the XML the SDK sent, element for element, so whatever a client
// round-trips (including what this server does not understand) comes back as it was written. What
// it models of AWS: UpdateDistribution without If-Match is InvalidIfMatchVersion, with a stale ETag
// PreconditionFailed (412); a CallerReference that changed is IllegalUpdate; a TargetOriginId that
// names no origin or origin group is NoSuchOrigin; Quantity must match Items (InconsistentQuantities);
// Comment is at most 128 characters. Each update gets a new ETag and puts the distribution
// InProgress until the propagation time has passed (by the server's clock) or Propagate is called.
package cloudfront

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rewind-sre/rewind/pkg/support/awslocal"
)

// Namespace is CloudFront's XML namespace for the 2020-05-31 API.
const Namespace = "http://cloudfront.amazonaws.com/doc/2020-05-31/"

// Origin is one origin of a distribution spec.
type Origin struct{ ID, DomainName string }

// Behavior is one cache behaviour of a distribution spec.
type Behavior struct{ PathPattern, OriginID string }

// Spec describes a distribution to create.
type Spec struct {
	ID            string // upper-case letters and digits; made up when empty
	Comment       string
	Origins       []Origin
	DefaultOrigin string
	Behaviors     []Behavior
}

// Node is one XML element, kept whole: its attributes, text and children in order.
type Node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nodes   []*Node    `xml:",any"`
}

// Child returns the first child element called name, or nil.
func (n *Node) Child(name string) *Node {
	if n == nil {
		return nil
	}
	for _, c := range n.Nodes {
		if c.XMLName.Local == name {
			return c
		}
	}
	return nil
}

// Path follows child names; nil when any is missing.
func (n *Node) Path(names ...string) *Node {
	for _, name := range names {
		n = n.Child(name)
	}
	return n
}

// Value is the trimmed text of the element at path, "" when missing.
func (n *Node) Value(names ...string) string {
	if c := n.Path(names...); c != nil {
		return strings.TrimSpace(c.Text)
	}
	return ""
}

func (n *Node) items(list string) []*Node {
	if c := n.Path(list, "Items"); c != nil {
		return c.Nodes
	}
	return nil
}

func stripNamespaces(n *Node) {
	n.XMLName.Space = ""
	kept := n.Attrs[:0]
	for _, a := range n.Attrs {
		if a.Name.Local != "xmlns" && a.Name.Space != "xmlns" {
			kept = append(kept, a)
		}
	}
	n.Attrs = kept
	for _, c := range n.Nodes {
		stripNamespaces(c)
	}
}

type distribution struct {
	id           string
	config       *Node
	etag         string
	lastModified time.Time
	deployed     bool
}

// Server is the local control plane. It is safe for concurrent use.
type Server struct {
	*awslocal.Recorder
	now         func() time.Time
	propagation time.Duration

	mu    sync.Mutex
	dists map[string]*distribution
	seq   int
}

// New returns an empty server. now may be nil (time.Now); an update stays InProgress for
// propagation by that clock (0: until Propagate).
func New(now func() time.Time, propagation time.Duration) *Server {
	if now == nil {
		now = time.Now
	}
	s := &Server{now: now, propagation: propagation, dists: map[string]*distribution{}}
	s.Recorder = awslocal.NewRecorder(now, func(w http.ResponseWriter, status int) {
		code := map[int]string{429: "Throttling", 400: "InvalidArgument", 404: "NoSuchDistribution", 409: "OperationAborted",
			412: "PreconditionFailed", 500: "InternalError", 503: "ServiceUnavailable"}[status]
		if code == "" {
			code = http.StatusText(status)
		}
		writeError(w, status, code, http.StatusText(status))
	})
	return s
}

// CreateDistribution adds a Deployed distribution built from spec and returns its id.
func (s *Server) CreateDistribution(spec Spec) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	if spec.ID == "" {
		spec.ID = fmt.Sprintf("E%012d", s.seq)
	}
	root, err := parse([]byte(configXML(spec, fmt.Sprintf("rewind-local-%d", s.seq))))
	if err != nil {
		return "", err
	}
	d := &distribution{id: spec.ID, config: root, lastModified: s.now().UTC().Truncate(time.Second), deployed: true}
	s.seq++
	d.etag = fmt.Sprintf("E%dLOCALETAG", s.seq)
	s.dists[spec.ID] = d
	return spec.ID, nil
}

func configXML(spec Spec, ref string) string {
	esc := func(s string) string {
		var b bytes.Buffer
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<DistributionConfig xmlns="%s"><CallerReference>%s</CallerReference><Aliases><Quantity>0</Quantity></Aliases><DefaultRootObject></DefaultRootObject>`, Namespace, ref)
	fmt.Fprintf(&b, `<Origins><Quantity>%d</Quantity><Items>`, len(spec.Origins))
	for _, o := range spec.Origins {
		fmt.Fprintf(&b, `<Origin><Id>%s</Id><DomainName>%s</DomainName><OriginPath></OriginPath><CustomHeaders><Quantity>0</Quantity></CustomHeaders>`+
			`<CustomOriginConfig><HTTPPort>80</HTTPPort><HTTPSPort>443</HTTPSPort><OriginProtocolPolicy>https-only</OriginProtocolPolicy>`+
			`<OriginSslProtocols><Quantity>1</Quantity><Items><SslProtocol>TLSv1.2</SslProtocol></Items></OriginSslProtocols>`+
			`<OriginReadTimeout>30</OriginReadTimeout><OriginKeepaliveTimeout>5</OriginKeepaliveTimeout></CustomOriginConfig>`+
			`<ConnectionAttempts>3</ConnectionAttempts><ConnectionTimeout>10</ConnectionTimeout></Origin>`, esc(o.ID), esc(o.DomainName))
	}
	b.WriteString(`</Items></Origins><OriginGroups><Quantity>0</Quantity></OriginGroups>`)
	behavior := func(tag, pattern, origin string) {
		fmt.Fprintf(&b, `<%s>`, tag)
		if pattern != "" {
			fmt.Fprintf(&b, `<PathPattern>%s</PathPattern>`, esc(pattern))
		}
		fmt.Fprintf(&b, `<TargetOriginId>%s</TargetOriginId><TrustedSigners><Enabled>false</Enabled><Quantity>0</Quantity></TrustedSigners>`+
			`<ViewerProtocolPolicy>redirect-to-https</ViewerProtocolPolicy><AllowedMethods><Quantity>2</Quantity><Items><Method>HEAD</Method><Method>GET</Method></Items>`+
			`<CachedMethods><Quantity>2</Quantity><Items><Method>HEAD</Method><Method>GET</Method></Items></CachedMethods></AllowedMethods>`+
			`<SmoothStreaming>false</SmoothStreaming><Compress>true</Compress><FieldLevelEncryptionId></FieldLevelEncryptionId>`+
			`<CachePolicyId>4135ea2d-6df8-44a3-9df3-4b5a84be39ad</CachePolicyId></%s>`, esc(origin), tag)
	}
	behavior("DefaultCacheBehavior", "", spec.DefaultOrigin)
	fmt.Fprintf(&b, `<CacheBehaviors><Quantity>%d</Quantity>`, len(spec.Behaviors))
	if len(spec.Behaviors) > 0 {
		b.WriteString(`<Items>`)
		for _, cb := range spec.Behaviors {
			behavior("CacheBehavior", cb.PathPattern, cb.OriginID)
		}
		b.WriteString(`</Items>`)
	}
	fmt.Fprintf(&b, `</CacheBehaviors><CustomErrorResponses><Quantity>0</Quantity></CustomErrorResponses><Comment>%s</Comment>`+
		`<Logging><Enabled>false</Enabled><IncludeCookies>false</IncludeCookies><Bucket></Bucket><Prefix></Prefix></Logging>`+
		`<PriceClass>PriceClass_All</PriceClass><Enabled>true</Enabled><ViewerCertificate><CloudFrontDefaultCertificate>true</CloudFrontDefaultCertificate>`+
		`<MinimumProtocolVersion>TLSv1</MinimumProtocolVersion></ViewerCertificate><Restrictions><GeoRestriction><RestrictionType>none</RestrictionType>`+
		`<Quantity>0</Quantity></GeoRestriction></Restrictions><WebACLId></WebACLId><HttpVersion>http2</HttpVersion><IsIPV6Enabled>true</IsIPV6Enabled>`+
		`<Staging>false</Staging></DistributionConfig>`, esc(spec.Comment))
	return b.String()
}

func parse(body []byte) (*Node, error) {
	var root Node
	if err := xml.Unmarshal(body, &root); err != nil {
		return nil, err
	}
	if root.XMLName.Local != "DistributionConfig" {
		return nil, fmt.Errorf("root element is %s, want DistributionConfig", root.XMLName.Local)
	}
	stripNamespaces(&root)
	return &root, nil
}

// View is what a test reads of a distribution.
type View struct {
	Status        string            // InProgress or Deployed
	ETag          string            // current ETag
	Comment       string            // the configuration's Comment
	DefaultOrigin string            // DefaultCacheBehavior's TargetOriginId
	Behaviors     map[string]string // path pattern -> TargetOriginId
	Config        *Node             // the whole configuration as stored
}

// Distribution returns a view of a distribution.
func (s *Server) Distribution(id string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dists[id]
	if d == nil {
		return View{}, false
	}
	v := View{Status: s.status(d), ETag: d.etag, Comment: d.config.Value("Comment"),
		DefaultOrigin: d.config.Value("DefaultCacheBehavior", "TargetOriginId"), Behaviors: map[string]string{}, Config: d.config}
	for _, cb := range d.config.items("CacheBehaviors") {
		v.Behaviors[cb.Value("PathPattern")] = cb.Value("TargetOriginId")
	}
	return v, true
}

// SetBehaviorOrigin changes a behaviour's origin as a human in the console would: a new ETag,
// InProgress. pattern "*" is the default behaviour.
func (s *Server) SetBehaviorOrigin(id, pattern, origin string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dists[id]
	if d == nil {
		return false
	}
	b := behavior(d.config, pattern)
	if b == nil || b.Child("TargetOriginId") == nil {
		return false
	}
	b.Child("TargetOriginId").Text = origin
	s.touch(d)
	return true
}

// Propagate marks a distribution Deployed, as CloudFront does when an update reached every edge.
func (s *Server) Propagate(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.dists[id]; d != nil {
		d.deployed = true
	}
}

func behavior(cfg *Node, pattern string) *Node {
	if pattern == "*" {
		return cfg.Child("DefaultCacheBehavior")
	}
	for _, cb := range cfg.items("CacheBehaviors") {
		if cb.Value("PathPattern") == pattern {
			return cb
		}
	}
	return nil
}

func (s *Server) touch(d *distribution) {
	s.seq++
	d.etag = fmt.Sprintf("E%dLOCALETAG", s.seq)
	d.lastModified = s.now().UTC().Truncate(time.Second)
	d.deployed = false
}

func (s *Server) status(d *distribution) string {
	if d.deployed || (s.propagation > 0 && !s.now().Before(d.lastModified.Add(s.propagation))) {
		return "Deployed"
	}
	return "InProgress"
}

var routes = []awslocal.Route{
	{Method: "GET", Path: "/2020-05-31/distribution/{Id}", Op: "GetDistribution"},
	{Method: "GET", Path: "/2020-05-31/distribution/{Id}/config", Op: "GetDistributionConfig"},
	{Method: "PUT", Path: "/2020-05-31/distribution/{Id}/config", Op: "UpdateDistribution"},
}

// ServeHTTP is the control plane (cloudfront.amazonaws.com).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, params, ok := awslocal.Match(routes, r.Method, r.URL.EscapedPath())
	if !ok {
		writeError(w, http.StatusNotFound, "NotFound", "no such operation: "+r.Method+" "+r.URL.Path)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "MalformedInput", err.Error())
		return
	}
	s.Serve(w, r, rt.Op, func(w http.ResponseWriter) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		d := s.dists[params["Id"]]
		if d == nil {
			writeError(w, http.StatusNotFound, "NoSuchDistribution", "The specified distribution does not exist.")
			return false
		}
		switch rt.Op {
		case "GetDistribution":
			s.writeDistribution(w, d)
		case "GetDistributionConfig":
			w.Header().Set("ETag", d.etag)
			writeXML(w, http.StatusOK, withNamespace(d.config))
		case "UpdateDistribution":
			return s.update(w, r, d, body)
		}
		return false
	})
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, d *distribution, body []byte) bool {
	ifMatch := r.Header.Get("If-Match")
	switch {
	case ifMatch == "":
		writeError(w, http.StatusBadRequest, "InvalidIfMatchVersion", "The If-Match version is missing or not valid for the resource.")
		return false
	case ifMatch != d.etag:
		writeError(w, http.StatusPreconditionFailed, "PreconditionFailed", "The precondition given in one or more of the request-header fields evaluated to false.")
		return false
	}
	cfg, err := parse(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "MalformedXML", "The XML document you provided was not well-formed: "+err.Error())
		return false
	}
	if msg := validate(d.config, cfg); msg != "" {
		code, status, _ := strings.Cut(msg, ":")
		n, _ := strconv.Atoi(status[:3])
		writeError(w, n, code, strings.TrimSpace(status[3:]))
		return false
	}
	d.config = cfg
	s.touch(d)
	s.writeDistribution(w, d)
	return true
}

// validate returns "Code:NNN message" for a configuration AWS would refuse, "" when it is fine.
func validate(old, cfg *Node) string {
	if cfg.Value("CallerReference") != old.Value("CallerReference") {
		return "IllegalUpdate:400 CallerReference cannot be changed."
	}
	if utf8.RuneCountInString(cfg.Value("Comment")) > 128 {
		return "InvalidArgument:400 The parameter Comment is too long."
	}
	ids := map[string]bool{}
	for _, list := range []string{"Origins", "OriginGroups", "CacheBehaviors"} {
		q, items := cfg.Value(list, "Quantity"), cfg.items(list)
		if q != strconv.Itoa(len(items)) {
			return fmt.Sprintf("InconsistentQuantities:400 %s: Quantity %s but %d Items.", list, q, len(items))
		}
	}
	for _, o := range cfg.items("Origins") {
		ids[o.Value("Id")] = true
	}
	for _, g := range cfg.items("OriginGroups") {
		ids[g.Value("Id")] = true
	}
	targets := []string{cfg.Value("DefaultCacheBehavior", "TargetOriginId")}
	for _, cb := range cfg.items("CacheBehaviors") {
		targets = append(targets, cb.Value("TargetOriginId"))
	}
	for _, t := range targets {
		if !ids[t] {
			return fmt.Sprintf("NoSuchOrigin:404 One or more of your origins or origin groups do not exist (%s).", t)
		}
	}
	return ""
}

func (s *Server) writeDistribution(w http.ResponseWriter, d *distribution) {
	dist := &Node{XMLName: xml.Name{Local: "Distribution"}, Nodes: []*Node{
		leaf("Id", d.id),
		leaf("ARN", "arn:aws:cloudfront::123456789012:distribution/"+d.id),
		leaf("Status", s.status(d)),
		leaf("LastModifiedTime", d.lastModified.Format("2006-01-02T15:04:05.000Z")),
		leaf("InProgressInvalidationBatches", "0"),
		leaf("DomainName", strings.ToLower(d.id)+".cloudfront.net"),
		d.config,
	}}
	w.Header().Set("ETag", d.etag)
	writeXML(w, http.StatusOK, withNamespace(dist))
}

func leaf(name, text string) *Node { return &Node{XMLName: xml.Name{Local: name}, Text: text} }

func withNamespace(n *Node) *Node {
	c := *n
	c.Attrs = append([]xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: Namespace}}, n.Attrs...)
	return &c
}

func writeXML(w http.ResponseWriter, status int, n *Node) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if err := xml.NewEncoder(&b).Encode(n); err != nil {
		writeError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0"?><ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code><Message>`, Namespace, typ, code)
	_ = xml.EscapeText(&b, []byte(message))
	b.WriteString(`</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>`)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

package samtemplate

// A translated template holds intrinsic functions; AWS's reference data and an IAM simulator want the
// concrete ARNs CloudFormation would write. deployment resolves them for one imagined stack: account
// simAccount, region simRegion, the parameter values given (each other parameter's default), and the
// physical names CloudFormation generates (stack-LogicalId-SUFFIX). It knows the intrinsics and the
// resource types this template's policies use, and is an error, never a guess, on anything else.

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

const (
	simPartition = "aws"
	simRegion    = "us-east-1"
	simAccount   = "111122223333"
	simStackName = "rewind"
	// simSuffix is the random part of a name CloudFormation generates.
	simSuffix = "1A2B3C4D5E6F"
)

// noValue is what AWS::NoValue resolves to: the property or list element is left out.
type noValueT struct{}

var noValue = noValueT{}

type deployment struct {
	t      *Template
	params map[string]string
	conds  map[string]bool
	busy   map[string]bool // conditions being evaluated, against a cycle
}

// newDeployment resolves t with the parameter values given; a parameter without one takes its Default,
// and one with neither is an error when a resolved value needs it.
func newDeployment(t *Template, values map[string]string) *deployment {
	params := map[string]string{}
	for name, p := range t.Parameters {
		pm, _ := p.(map[string]any)
		if d, ok := pm["Default"]; ok {
			params[name] = scalarString(d)
		}
	}
	for k, v := range values {
		params[k] = v
	}
	return &deployment{t: t, params: params, conds: map[string]bool{}, busy: map[string]bool{}}
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// eval resolves every intrinsic in v; AWS::NoValue (and Fn::If choosing it) drops the key or element.
func (d *deployment) eval(v any) (any, error) {
	if fn, arg, ok := intrinsic(v); ok {
		return d.intrinsic(fn, arg)
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := d.eval(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if r != noValue {
				out[k] = r
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for i, e := range x {
			r, err := d.eval(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			if r != noValue {
				out = append(out, r)
			}
		}
		return out, nil
	}
	return v, nil
}

func (d *deployment) str(v any) (string, error) {
	r, err := d.eval(v)
	if err != nil {
		return "", err
	}
	switch x := r.(type) {
	case string, int64, float64, bool:
		return scalarString(x), nil
	}
	return "", fmt.Errorf("%v is not a string", r)
}

func (d *deployment) intrinsic(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		if name == "AWS::NoValue" {
			return noValue, nil
		}
		return d.ref(name)
	case "Fn::GetAtt":
		var parts []string
		switch a := arg.(type) {
		case []any:
			for _, p := range a {
				s, err := d.str(p)
				if err != nil {
					return nil, err
				}
				parts = append(parts, s)
			}
		case string:
			parts = strings.SplitN(a, ".", 2)
		}
		if len(parts) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt %v: want [Resource, Attribute]", arg)
		}
		return d.getAtt(parts[0], parts[1])
	case "Fn::Sub":
		tmpl, vars := "", map[string]any{}
		switch a := arg.(type) {
		case string:
			tmpl = a
		case []any:
			if len(a) != 2 {
				return nil, fmt.Errorf("Fn::Sub %v: want [template, variables]", arg)
			}
			tmpl, _ = a[0].(string)
			vars, _ = a[1].(map[string]any)
		}
		return d.sub(tmpl, vars)
	case "Fn::Join":
		a, _ := arg.([]any)
		if len(a) != 2 {
			return nil, fmt.Errorf("Fn::Join %v: want [separator, list]", arg)
		}
		sep, _ := a[0].(string)
		list, err := d.eval(a[1])
		if err != nil {
			return nil, err
		}
		items, _ := list.([]any)
		var parts []string
		for _, e := range items {
			s, err := d.str(e)
			if err != nil {
				return nil, err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, sep), nil
	case "Fn::If":
		a, _ := arg.([]any)
		if len(a) != 3 {
			return nil, fmt.Errorf("Fn::If %v: want [condition, then, else]", arg)
		}
		name, _ := a[0].(string)
		c, err := d.cond(name)
		if err != nil {
			return nil, err
		}
		if c {
			return d.eval(a[1])
		}
		return d.eval(a[2])
	case "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition":
		return d.condition(map[string]any{fn: arg})
	case "Fn::Split":
		a, _ := arg.([]any)
		if len(a) != 2 {
			return nil, fmt.Errorf("Fn::Split %v: want [delimiter, string]", arg)
		}
		sep, _ := a[0].(string)
		str, err := d.str(a[1])
		if err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(str, sep) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::Select":
		a, _ := arg.([]any)
		if len(a) != 2 {
			return nil, fmt.Errorf("Fn::Select %v: want [index, list]", arg)
		}
		i, err := d.str(a[0])
		if err != nil {
			return nil, err
		}
		list, err := d.eval(a[1])
		if err != nil {
			return nil, err
		}
		items, _ := list.([]any)
		n, err := strconv.Atoi(i)
		if err != nil || n < 0 || n >= len(items) {
			return nil, fmt.Errorf("Fn::Select %s of %d items", i, len(items))
		}
		return items[n], nil
	}
	return nil, fmt.Errorf("%s: not an intrinsic these tests resolve", fn)
}

// sub resolves Fn::Sub: ${Name} is a variable or a Ref, ${Res.Attr} a GetAtt, ${!x} the text ${x}.
func (d *deployment) sub(tmpl string, vars map[string]any) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(tmpl, "${")
		if i < 0 {
			b.WriteString(tmpl)
			return b.String(), nil
		}
		j := strings.Index(tmpl[i:], "}")
		if j < 0 {
			return "", fmt.Errorf("Fn::Sub %q: unclosed ${", tmpl)
		}
		b.WriteString(tmpl[:i])
		name := tmpl[i+2 : i+j]
		tmpl = tmpl[i+j+1:]
		if lit, ok := strings.CutPrefix(name, "!"); ok {
			b.WriteString("${" + lit + "}")
			continue
		}
		var s string
		var err error
		if v, ok := vars[name]; ok {
			s, err = d.str(v)
		} else if res, attr, dotted := strings.Cut(name, "."); dotted {
			var r any
			if r, err = d.getAtt(res, attr); err == nil {
				s, err = d.str(r)
			}
		} else {
			s, err = d.ref(name)
		}
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
}

// cond evaluates the template's condition name once.
func (d *deployment) cond(name string) (bool, error) {
	if v, ok := d.conds[name]; ok {
		return v, nil
	}
	c, ok := d.t.Conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	if d.busy[name] {
		return false, fmt.Errorf("condition %s refers to itself", name)
	}
	d.busy[name] = true
	v, err := d.condition(c)
	delete(d.busy, name)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	d.conds[name] = v
	return v, nil
}

func (d *deployment) condition(c any) (bool, error) {
	fn, arg, ok := intrinsic(c)
	if !ok {
		return false, fmt.Errorf("%v is not a condition function", c)
	}
	a, _ := arg.([]any)
	switch fn {
	case "Condition":
		name, _ := arg.(string)
		return d.cond(name)
	case "Fn::Equals":
		if len(a) != 2 {
			return false, errors.New("Fn::Equals wants two values")
		}
		x, err := d.str(a[0])
		if err != nil {
			return false, err
		}
		y, err := d.str(a[1])
		return x == y, err
	case "Fn::Not":
		if len(a) != 1 {
			return false, errors.New("Fn::Not wants one condition")
		}
		v, err := d.condition(a[0])
		return !v, err
	case "Fn::And", "Fn::Or":
		and := fn == "Fn::And"
		for _, e := range a {
			v, err := d.condition(e)
			if err != nil {
				return false, err
			}
			if v != and {
				return v, nil
			}
		}
		return and, nil
	}
	return false, fmt.Errorf("%s is not a condition function", fn)
}

var pseudo = map[string]string{
	"AWS::Partition": simPartition, "AWS::Region": simRegion, "AWS::AccountId": simAccount,
	"AWS::StackName": simStackName, "AWS::URLSuffix": "amazonaws.com",
	"AWS::StackId": "arn:aws:cloudformation:" + simRegion + ":" + simAccount + ":stack/" + simStackName + "/00000000-0000-0000-0000-000000000000",
}

// ref is what !Ref name gives: a pseudo parameter, a parameter, or a resource's physical id.
func (d *deployment) ref(name string) (string, error) {
	if v, ok := pseudo[name]; ok {
		return v, nil
	}
	if v, ok := d.params[name]; ok {
		return v, nil
	}
	if _, ok := d.t.Parameters[name]; ok {
		return "", fmt.Errorf("parameter %s has no value and no default", name)
	}
	r, ok := d.t.Resources[name]
	if !ok {
		return "", fmt.Errorf("!Ref %s: no such parameter or resource", name)
	}
	phys, err := d.physicalName(name)
	if err != nil {
		return "", err
	}
	switch r.Type {
	case "AWS::SNS::Topic":
		return "arn:" + simPartition + ":sns:" + simRegion + ":" + simAccount + ":" + phys, nil
	case "AWS::SQS::Queue":
		return "https://sqs." + simRegion + ".amazonaws.com/" + simAccount + "/" + phys, nil
	case "AWS::IAM::ManagedPolicy":
		return "arn:" + simPartition + ":iam::" + simAccount + ":policy/" + phys, nil
	case "AWS::DynamoDB::Table", "AWS::Lambda::Function", "AWS::IAM::Role", "AWS::Events::Rule",
		"AWS::CloudWatch::Alarm", "AWS::Logs::LogGroup", "AWS::CloudWatch::Dashboard":
		return phys, nil
	}
	return "", fmt.Errorf("!Ref %s: a %s is not a resource these tests name", name, r.Type)
}

// nameProperty is the property that names each resource type, when the template sets it.
var nameProperty = map[string]string{
	"AWS::Lambda::Function": "FunctionName", "AWS::DynamoDB::Table": "TableName", "AWS::SNS::Topic": "TopicName",
	"AWS::SQS::Queue": "QueueName", "AWS::IAM::Role": "RoleName", "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
	"AWS::Events::Rule": "Name", "AWS::CloudWatch::Alarm": "AlarmName", "AWS::Logs::LogGroup": "LogGroupName",
	"AWS::CloudWatch::Dashboard": "DashboardName", "AWS::Chatbot::CustomAction": "ActionName",
}

// physicalName is the resource's name: its name property when the template sets one, else the name
// CloudFormation generates (stack-LogicalId-SUFFIX).
func (d *deployment) physicalName(logical string) (string, error) {
	r := d.t.Resources[logical]
	if prop, ok := nameProperty[r.Type]; ok {
		if v, set := r.Properties[prop]; set {
			n, err := d.eval(v)
			if err != nil {
				return "", fmt.Errorf("%s %s: %w", logical, prop, err)
			}
			if n != noValue {
				return d.str(n)
			}
		}
	}
	return simStackName + "-" + logical + "-" + simSuffix, nil
}

// getAtt is what !GetAtt res.attr gives, for the attributes these policies name.
func (d *deployment) getAtt(res, attr string) (any, error) {
	r, ok := d.t.Resources[res]
	if !ok {
		return nil, fmt.Errorf("!GetAtt %s.%s: no such resource", res, attr)
	}
	phys, err := d.physicalName(res)
	if err != nil {
		return nil, err
	}
	arn := func(service, region, account, resource string) string {
		return "arn:" + simPartition + ":" + service + ":" + region + ":" + account + ":" + resource
	}
	switch r.Type + "." + attr {
	case "AWS::Lambda::Function.Arn":
		return arn("lambda", simRegion, simAccount, "function:"+phys), nil
	case "AWS::DynamoDB::Table.Arn":
		return arn("dynamodb", simRegion, simAccount, "table/"+phys), nil
	case "AWS::SQS::Queue.Arn":
		return arn("sqs", simRegion, simAccount, phys), nil
	case "AWS::SQS::Queue.QueueName", "AWS::SNS::Topic.TopicName":
		return phys, nil
	case "AWS::SNS::Topic.TopicArn":
		return arn("sns", simRegion, simAccount, phys), nil
	case "AWS::IAM::Role.Arn":
		return arn("iam", "", simAccount, "role/"+phys), nil
	case "AWS::Events::Rule.Arn":
		return arn("events", simRegion, simAccount, "rule/"+phys), nil
	case "AWS::CloudWatch::Alarm.Arn":
		return arn("cloudwatch", simRegion, simAccount, "alarm:"+phys), nil
	case "AWS::Chatbot::CustomAction.CustomActionArn":
		return arn("chatbot", "", simAccount, "custom-action/"+phys), nil
	}
	return nil, fmt.Errorf("!GetAtt %s.%s: a %s attribute these tests do not resolve", res, attr, r.Type)
}

// policyDoc is one resolved IAM policy document and where it came from.
type policyDoc struct {
	where string
	doc   map[string]any
}

// rolePolicies resolves every policy document that applies to the IAM role logical: its inline
// Policies, the template's AWS::IAM::Policy / RolePolicy resources that name it, and the template's own
// managed policies in its ManagedPolicyArns. It returns the other managed policy ARNs unresolved. A
// resource whose Condition is false applies nowhere.
func (d *deployment) rolePolicies(logical string) ([]policyDoc, []string, error) {
	r, ok := d.t.Resources[logical]
	if !ok || r.Type != "AWS::IAM::Role" {
		return nil, nil, fmt.Errorf("%s: not an AWS::IAM::Role", logical)
	}
	if on, err := d.exists(logical); err != nil || !on {
		return nil, nil, fmt.Errorf("%s does not exist in this deployment (%v)", logical, err)
	}
	var docs []policyDoc
	var managed []string
	add := func(where string, v any) error {
		e, err := d.eval(v)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if text, isText := e.(string); isText { // a JSON document, as CloudFormation takes one too
			var doc map[string]any
			if err := json.Unmarshal([]byte(text), &doc); err != nil {
				return fmt.Errorf("%s: the policy document is not JSON: %w", where, err)
			}
			e = doc
		}
		m, ok := e.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: the policy document is a %T", where, e)
		}
		docs = append(docs, policyDoc{where: where, doc: m})
		return nil
	}
	props, err := d.eval(r.Properties)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", logical, err)
	}
	pm, _ := props.(map[string]any)
	pols, _ := pm["Policies"].([]any)
	for i, p := range pols {
		m, _ := p.(map[string]any)
		if err := add(fmt.Sprintf("%s Policies[%d] %v", logical, i, m["PolicyName"]), m["PolicyDocument"]); err != nil {
			return nil, nil, err
		}
	}
	policyARNs := map[string]string{} // resolved ARN -> the template's ManagedPolicy
	roleName, err := d.ref(logical)
	if err != nil {
		return nil, nil, err
	}
	for _, name := range d.t.ResourceNames() {
		other := d.t.Resources[name]
		if on, err := d.exists(name); err != nil {
			return nil, nil, err
		} else if !on {
			continue
		}
		switch other.Type {
		case "AWS::IAM::ManagedPolicy":
			a, err := d.ref(name)
			if err != nil {
				return nil, nil, err
			}
			policyARNs[a] = name
		case "AWS::IAM::Policy", "AWS::IAM::RolePolicy":
			op, err := d.eval(other.Properties)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", name, err)
			}
			opm, _ := op.(map[string]any)
			var roles []string
			if rn, ok := opm["RoleName"]; ok {
				roles = append(roles, scalarString(rn))
			}
			for _, rn := range flatten(opm["Roles"]) {
				roles = append(roles, scalarString(rn))
			}
			for _, rn := range roles {
				if rn == roleName {
					if err := add(name+" PolicyDocument", other.Properties["PolicyDocument"]); err != nil {
						return nil, nil, err
					}
				}
			}
		}
	}
	arns, _ := pm["ManagedPolicyArns"].([]any)
	for _, a := range arns {
		s := scalarString(a)
		if own, ok := policyARNs[s]; ok {
			if err := add(own+" PolicyDocument", d.t.Resources[own].Properties["PolicyDocument"]); err != nil {
				return nil, nil, err
			}
			continue
		}
		managed = append(managed, s)
	}
	sort.Strings(managed)
	return docs, managed, nil
}

// exists reports whether the resource is created in this deployment (its Condition, if any, holds).
func (d *deployment) exists(logical string) (bool, error) {
	r, ok := d.t.Resources[logical]
	if !ok {
		return false, fmt.Errorf("no resource %s", logical)
	}
	if r.Condition == "" {
		return true, nil
	}
	return d.cond(r.Condition)
}

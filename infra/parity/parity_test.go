package parity

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Unit tests of the normalisation rules on small templates: each rule makes two spellings of
// the same thing equal, and stops there (a real difference next to it is still reported).

type m = map[string]any

func noCode(string, map[string]any) (string, error) { return "x", nil }

func diffs(t *testing.T, sam, cdk Template) []string {
	t.Helper()
	d, err := Compare(sam, cdk, noCode)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func withResources(res m) Template { return Template{"Resources": res} }

func TestRenderingEquatesSubAndJoin(t *testing.T) { // T3
	sam := withResources(m{"R": m{"Type": "AWS::SQS::QueuePolicy", "Properties": m{
		"A": m{"Fn::Sub": "${Table.Arn}/index/*"},
		"B": m{"Fn::Sub": []any{"arn:${AWS::Partition}:x:${Name}", m{"Name": m{"Ref": "Queue"}}}},
		"C": m{"Fn::If": []any{"Cond", m{"Ref": "A"}, m{"Fn::Sub": "${B}"}}},
	}}})
	cdk := withResources(m{"R": m{"Type": "AWS::SQS::QueuePolicy", "Properties": m{
		"A": m{"Fn::Join": []any{"", []any{m{"Fn::GetAtt": []any{"Table", "Arn"}}, "/index/*"}}},
		"B": m{"Fn::Join": []any{"", []any{"arn:", m{"Ref": "AWS::Partition"}, ":x:", m{"Ref": "Queue"}}}},
		"C": m{"Fn::If": []any{"Cond", m{"Fn::Sub": "${A}"}, m{"Ref": "B"}}},
	}}})
	if d := diffs(t, sam, cdk); len(d) > 0 {
		t.Errorf("equal after rendering, got %v", d)
	}
	cdk["Resources"].(m)["R"].(m)["Properties"].(m)["A"] = m{"Fn::Join": []any{"", []any{m{"Fn::GetAtt": []any{"Table", "Arn"}}, "/index/GSI1"}}}
	if d := diffs(t, sam, cdk); len(d) != 1 || !strings.Contains(d[0], "Resources.R.Properties.A: SAM ${Table.Arn}/index/*, CDK ${Table.Arn}/index/GSI1") {
		t.Errorf("want the A difference, got %v", d)
	}
}

func TestScalarsAndEmptiesAndDependsOn(t *testing.T) { // T4, T5, T6
	sam := withResources(m{"R": m{"Type": "T", "DependsOn": []any{"B", "A"}, "Properties": m{"N": 30, "B": "true", "E": m{}, "L": []any{}}}})
	cdk := withResources(m{"R": m{"Type": "T", "DependsOn": []any{"A", "B"}, "Properties": m{"N": "30", "B": true}}})
	if d := diffs(t, sam, cdk); len(d) > 0 {
		t.Errorf("equal, got %v", d)
	}
	cdk["Resources"].(m)["R"].(m)["DependsOn"] = "A"
	if d := diffs(t, sam, cdk); len(d) != 1 || !strings.Contains(d[0], "DependsOn") {
		t.Errorf("want the DependsOn difference, got %v", d)
	}
}

func TestCDKBookkeepingAndSAMTagsDropped(t *testing.T) { // T1, T2, T7
	sam := withResources(m{"Fn": m{"Type": "AWS::Lambda::Function", "Metadata": m{"BuildMethod": "makefile"}, "Properties": m{
		"Tags": []any{m{"Key": "lambda:createdBy", "Value": "SAM"}, m{"Key": "team", "Value": "a"}},
	}}})
	cdk := Template{
		"Parameters": m{"BootstrapVersion": m{"Type": "AWS::SSM::Parameter::Value<String>"}},
		"Rules":      m{"CheckBootstrapVersion": m{"Assertions": []any{}}},
		"Resources": m{
			"Fn":          m{"Type": "AWS::Lambda::Function", "Metadata": m{"aws:cdk:path": "S/Fn/Resource", MetadataKey: "x"}, "Properties": m{"Tags": []any{m{"Key": "team", "Value": "a"}}}},
			"CDKMetadata": m{"Type": "AWS::CDK::Metadata"},
		},
	}
	if d := diffs(t, sam, cdk); len(d) > 0 {
		t.Errorf("equal, got %v", d)
	}
	// Not any tag: only SAM's own.
	cdk["Resources"].(m)["Fn"].(m)["Properties"].(m)["Tags"] = []any{m{"Key": "team", "Value": "b"}}
	if d := diffs(t, sam, cdk); len(d) != 1 {
		t.Errorf("want the team tag difference, got %v", d)
	}
}

func TestFunctionCode(t *testing.T) { // F1
	sam := withResources(m{"Fn": m{"Type": "AWS::Lambda::Function", "Properties": m{"Code": m{"S3Bucket": "bucket", "S3Key": "Fn.zip"}}}})
	cdk := withResources(m{"Fn": m{"Type": "AWS::Lambda::Function", "Metadata": m{MetadataKey: "functions/a"},
		"Properties": m{"Code": m{"S3Bucket": "cdk-assets", "S3Key": "abc.zip"}}}})
	code := func(folder string) CodeSource {
		return func(string, map[string]any) (string, error) { return folder, nil }
	}
	if d, _ := Compare(sam, cdk, code("functions/a")); len(d) > 0 {
		t.Errorf("same folder, got %v", d)
	}
	if d, _ := Compare(sam, cdk, code("functions/b")); len(d) != 1 || !strings.Contains(d[0], "Fn.Properties.Code: SAM built from functions/b, CDK built from functions/a") {
		t.Errorf("want the folder difference, got %v", d)
	}
	delete(cdk["Resources"].(m)["Fn"].(m), "Metadata")
	if _, err := Compare(sam, cdk, code("functions/a")); err == nil {
		t.Error("a CDK function without its source folder must be an error")
	}
}

func role(policies []any, managed ...any) m {
	return m{"Type": "AWS::IAM::Role", "Properties": m{
		"AssumeRolePolicyDocument": m{"Statement": []any{m{"Effect": "Allow", "Action": []any{"sts:AssumeRole"}, "Principal": m{"Service": []any{"lambda.amazonaws.com"}}}}},
		"ManagedPolicyArns":        managed,
		"Policies":                 policies,
	}}
}

func TestIAMGrants(t *testing.T) { // I1–I4
	samRole := role([]any{
		m{"PolicyName": "RolePolicy0", "PolicyDocument": m{"Statement": []any{m{"Effect": "Allow", "Action": []any{"dynamodb:GetItem", "dynamodb:Query"},
			"Resource": []any{m{"Fn::Sub": []any{"arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${tableName}/index/*", m{"tableName": m{"Ref": "T"}}}}}}}}},
		m{"PolicyName": "RolePolicy1", "PolicyDocument": m{"Statement": []any{m{"Sid": "S", "Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": m{"Fn::GetAtt": []any{"T", "Arn"}}}}}},
	}, "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
	cdkRole := role([]any{
		m{"PolicyName": "Other", "PolicyDocument": m{"Statement": []any{m{"Effect": "Allow", "Action": "dynamodb:Query",
			"Resource": m{"Fn::Join": []any{"", []any{m{"Fn::GetAtt": []any{"T", "Arn"}}, "/index/*"}}}}}}},
	}, m{"Fn::Join": []any{"", []any{"arn:", m{"Ref": "AWS::Partition"}, ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}}})
	cdkRole["Properties"].(m)["AssumeRolePolicyDocument"] = m{"Statement": []any{m{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": m{"Service": "lambda.amazonaws.com"}}}}
	table := m{"Type": "AWS::DynamoDB::Table"}
	sam := withResources(m{"T": table, "Role": samRole})
	cdk := withResources(m{"T": table, "Role": cdkRole,
		"RoleDefaultPolicy": m{"Type": "AWS::IAM::Policy", "Properties": m{"Roles": []any{m{"Ref": "Role"}}, "PolicyDocument": m{"Statement": []any{
			m{"Effect": "Allow", "Action": []any{"dynamodb:GetItem"}, "Resource": m{"Fn::Sub": "${T.Arn}/index/*"}},
			m{"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": m{"Fn::GetAtt": []any{"T", "Arn"}}},
		}}}},
	})
	if d := diffs(t, sam, cdk); len(d) > 0 {
		t.Errorf("same grants, got %v", d)
	}
	// One more action, and a condition, are real differences.
	st := cdk["Resources"].(m)["RoleDefaultPolicy"].(m)["Properties"].(m)["PolicyDocument"].(m)["Statement"].([]any)
	st[0].(m)["Action"] = []any{"dynamodb:GetItem", "dynamodb:Scan"}
	st[1].(m)["Condition"] = m{"StringEquals": m{"k": "v"}}
	got := diffs(t, sam, cdk)
	for _, want := range []string{
		`Role.Properties.Grants["Allow dynamodb:Scan on ${T.Arn}/index/*"]: only in CDK`,
		`Role.Properties.Grants["Allow dynamodb:PutItem on ${T.Arn}"]: only in SAM`,
		`Role.Properties.Grants["Allow dynamodb:PutItem on ${T.Arn} if {\"StringEquals\":{\"k\":\"v\"}}"]: only in CDK`,
	} {
		if !slices.ContainsFunc(got, func(d string) bool { return strings.Contains(d, want) }) {
			t.Errorf("want %s in %v", want, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("want 3 differences, got %v", got)
	}
}

func TestTableArnRuleOnlyForTables(t *testing.T) { // I2 is narrow
	if got := tableArn("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Q}", map[string]bool{"T": true}); strings.HasPrefix(got, "${Q.Arn}") {
		t.Errorf("a reference to something that is not a table of the template stays as written, got %s", got)
	}
}

func TestPermissions(t *testing.T) { // P1–P3
	api := m{"Type": "AWS::ApiGatewayV2::Api", "Properties": m{"ProtocolType": "HTTP"}}
	perm := func(fn any, src any) m {
		return m{"Type": "AWS::Lambda::Permission", "Properties": m{"Action": "lambda:InvokeFunction", "FunctionName": fn, "Principal": "apigateway.amazonaws.com", "SourceArn": src}}
	}
	sam := withResources(m{"Api": api, "FnGetUserPermission": perm(m{"Ref": "Fn"},
		m{"Fn::Sub": []any{"arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${__ApiId__}/${__Stage__}/GET/users/*", m{"__ApiId__": m{"Ref": "Api"}, "__Stage__": "*"}}}),
		"AuthPermission": perm(m{"Fn::GetAtt": []any{"Auth", "Arn"}}, m{"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/authorizers/*"}),
	})
	join := func(rest string, extra ...any) m {
		parts := []any{"arn:", m{"Ref": "AWS::Partition"}, ":execute-api:", m{"Ref": "AWS::Region"}, ":", m{"Ref": "AWS::AccountId"}, ":", m{"Ref": "Api"}, rest}
		return m{"Fn::Join": []any{"", append(parts, extra...)}}
	}
	cdk := withResources(m{"Api": api,
		"ApiGETusersuserIdFnPermissionABCD": perm(m{"Fn::GetAtt": []any{"Fn", "Arn"}}, join("/*/*/users/{userId}")),
		"ApiAuthPermission1234":             perm(m{"Fn::GetAtt": []any{"Auth", "Arn"}}, join("/authorizers/", m{"Ref": "ApiAuthorizer"})),
	})
	if d := diffs(t, sam, cdk); len(d) > 0 {
		t.Errorf("same permissions, got %v", d)
	}
	// A permission on another path is a real difference.
	cdk["Resources"].(m)["ApiGETusersuserIdFnPermissionABCD"] = perm(m{"Fn::GetAtt": []any{"Fn", "Arn"}}, join("/*/*/teams/{teamId}"))
	if d := diffs(t, sam, cdk); len(d) != 2 {
		t.Errorf("want the users permission only in SAM and the teams one only in CDK, got %v", d)
	}
}

func TestHTTPAPIForms(t *testing.T) { // H1
	uri := func(fn string) m {
		return m{"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${" + fn + ".Arn}/invocations"}
	}
	sam := Template{
		"Parameters": m{"Origins": m{"Type": "CommaDelimitedList", "Default": "https://a,https://b"}},
		"Resources": m{"Api": m{"Type": "AWS::ApiGatewayV2::Api", "Properties": m{"Body": m{
			"openapi": "3.0.1", "info": m{"title": m{"Ref": "AWS::StackName"}, "description": "d"},
			"tags":                     []any{m{"name": "httpapi:createdBy", "x-amazon-apigateway-tag-value": "SAM"}},
			"x-amazon-apigateway-cors": m{"allowOrigins": []any{"https://a", "https://b"}, "maxAge": 600},
			"components": m{"securitySchemes": m{"Lambda": m{"x-amazon-apigateway-authorizer": m{
				"authorizerUri": uri("Auth"), "type": "request", "authorizerPayloadFormatVersion": "2.0", "authorizerResultTtlInSeconds": 0,
				"enableSimpleResponses": true, "identitySource": []any{}}}}},
			"paths": m{"/users/{id}": m{
				"get":    m{"security": []any{m{"Lambda": []any{}}}, "x-amazon-apigateway-integration": m{"type": "aws_proxy", "payloadFormatVersion": "2.0", "httpMethod": "POST", "uri": uri("Users")}},
				"delete": m{"security": []any{m{"NONE": []any{}}}, "x-amazon-apigateway-integration": m{"type": "aws_proxy", "payloadFormatVersion": "2.0", "httpMethod": "POST", "uri": uri("Users")}},
			}},
		}}}},
	}
	cdk := Template{
		"Parameters": m{"Origins": m{"Type": "CommaDelimitedList", "Default": "https://a,https://b"}},
		"Resources": m{
			"Api": m{"Type": "AWS::ApiGatewayV2::Api", "Properties": m{"Name": m{"Ref": "AWS::StackName"}, "Description": "d", "ProtocolType": "HTTP",
				"CorsConfiguration": m{"AllowOrigins": m{"Ref": "Origins"}, "MaxAge": 600}}},
			"Auth1": m{"Type": "AWS::ApiGatewayV2::Authorizer", "Properties": m{"ApiId": m{"Ref": "Api"}, "Name": "Lambda", "AuthorizerType": "REQUEST",
				"AuthorizerUri":                  m{"Fn::Join": []any{"", []any{"arn:", m{"Ref": "AWS::Partition"}, ":apigateway:", m{"Ref": "AWS::Region"}, ":lambda:path/2015-03-31/functions/", m{"Fn::GetAtt": []any{"Auth", "Arn"}}, "/invocations"}}},
				"AuthorizerPayloadFormatVersion": "2.0", "AuthorizerResultTtlInSeconds": 0, "EnableSimpleResponses": true, "IdentitySource": []any{}}},
			"Integ1": m{"Type": "AWS::ApiGatewayV2::Integration", "Properties": m{"ApiId": m{"Ref": "Api"}, "IntegrationType": "AWS_PROXY",
				"IntegrationUri": m{"Fn::GetAtt": []any{"Users", "Arn"}}, "PayloadFormatVersion": "2.0"}},
			"RouteGet": m{"Type": "AWS::ApiGatewayV2::Route", "Properties": m{"ApiId": m{"Ref": "Api"}, "RouteKey": "GET /users/{id}",
				"AuthorizationType": "CUSTOM", "AuthorizerId": m{"Ref": "Auth1"}, "Target": m{"Fn::Join": []any{"", []any{"integrations/", m{"Ref": "Integ1"}}}}}},
			"RouteDelete": m{"Type": "AWS::ApiGatewayV2::Route", "Properties": m{"ApiId": m{"Ref": "Api"}, "RouteKey": "DELETE /users/{id}",
				"AuthorizationType": "NONE", "Target": m{"Fn::Join": []any{"", []any{"integrations/", m{"Ref": "Integ1"}}}}}},
		},
	}
	if d := diffs(t, sam, cdk); len(d) > 0 {
		t.Errorf("same API, got %v", d)
	}
	cdk["Resources"].(m)["Integ1"].(m)["Properties"].(m)["TimeoutInMillis"] = 5000
	cdk["Resources"].(m)["RouteDelete"].(m)["Properties"].(m)["AuthorizationType"] = "AWS_IAM"
	got := diffs(t, sam, cdk)
	for _, want := range []string{
		`Routes["DELETE /users/{id}"].Authorization: SAM NONE, CDK AWS_IAM`,
		`Routes["GET /users/{id}"]["Integration.TimeoutInMillis"]: only in CDK`,
	} {
		if !slices.ContainsFunc(got, func(d string) bool { return strings.Contains(d, want) }) {
			t.Errorf("want %s in %v", want, got)
		}
	}
}

func TestMakefileSource(t *testing.T) {
	dir := t.TempDir()
	makefile := "build-MetaFunction build-TaskEventsFunction:\n\tgo build -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(shell echo $(patsubst build-%Function,%,$@) | tr A-Z a-z)\n"
	if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte(makefile), 0o644); err != nil {
		t.Fatal(err)
	}
	src := MakefileSource(dir)
	fn := map[string]any{"Metadata": map[string]any{"BuildMethod": "makefile"}}
	if got, err := src("TaskEventsFunction", fn); err != nil || got != "functions/taskevents" {
		t.Errorf("TaskEventsFunction: %q, %v; want functions/taskevents", got, err)
	}
	if _, err := src("UsersFunction", fn); err == nil {
		t.Error("a function without a build target must be an error")
	}
	if _, err := src("MetaFunction", map[string]any{}); err == nil {
		t.Error("a function without BuildMethod makefile must be an error")
	}
}

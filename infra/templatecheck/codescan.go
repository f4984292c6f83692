package templatecheck

import (
	"fmt"
	"go/constant"
	"go/token"
	"go/types"
	"os"
	"regexp"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/ssa/ssautil"
)

// CodeUse is the environment variables and AWS actions of one function's
// code, found in the code reachable from its main package.
type CodeUse struct {
	// Env maps each environment variable name the code reads to the
	// positions of the reads.
	Env map[string][]string
	// Actions maps each IAM action the code's AWS calls need, such as
	// "dynamodb:GetItem", to the positions of the calls.
	Actions map[string][]string
}

// servicePrefixes maps the SDK service packages the product uses to their
// IAM service prefixes.
var servicePrefixes = map[string]string{
	"github.com/aws/aws-sdk-go-v2/service/dynamodb":       "dynamodb",
	"github.com/aws/aws-sdk-go-v2/service/sqs":            "sqs",
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager": "secretsmanager",
}

// iamActionOf maps SDK operations whose IAM action has another name.
// TransactWriteItems and TransactGetItems have no action of their own: IAM
// checks the action of each item, found through the item types below.
var iamActionOf = map[string]string{
	"sqs:SendMessageBatch":             "sqs:SendMessage",
	"sqs:DeleteMessageBatch":           "sqs:DeleteMessage",
	"sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
	"dynamodb:TransactWriteItems":      "",
	"dynamodb:TransactGetItems":        "",
}

// transactItemActions maps the item types of DynamoDB transactions to the
// action IAM checks for them.
var transactItemActions = map[string]string{
	"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem",
	"ConditionCheck": "dynamodb:ConditionCheckItem", "Get": "dynamodb:GetItem",
}

// envNamePattern matches environment variable names such as TABLE_NAME.
var envNamePattern = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)

// ScanFunctions loads the module at root and returns, for each main package
// directory given (such as "functions/ingest"), what its code uses, or why it
// could not be analysed. Only code reachable from the function's main and
// init functions counts, so a shared package's
// local-only helpers, such as table creation, do not count against a
// function that never calls them. The packages are built as for Lambda:
// linux/arm64 with the lambda.norpc tag.
func ScanFunctions(root, module string, dirs []string) (map[string]CodeUse, map[string]error) {
	uses, errs := map[string]CodeUse{}, map[string]error{}
	cfg := &packages.Config{
		Mode:       packages.LoadSyntax,
		Dir:        root,
		Env:        append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"),
		BuildFlags: []string{"-tags=lambda.norpc"},
	}
	// The functions and the shared packages are loaded from source, so the
	// analysis reads the bodies of shared code; other dependencies come from
	// export data.
	patterns := []string{"./shared/..."}
	for _, dir := range dirs {
		patterns = append(patterns, "./"+strings.TrimPrefix(dir, "./"))
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		for _, dir := range dirs {
			errs[dir] = fmt.Errorf("templatecheck: load packages: %w", err)
		}
		return uses, errs
	}
	prog, ssaPkgs := ssautil.Packages(pkgs, ssa.InstantiateGenerics)
	prog.Build()

	byPath := map[string]*ssa.Package{}
	loaded := map[string]*packages.Package{}
	for i, p := range pkgs {
		loaded[p.PkgPath] = p
		if ssaPkgs[i] != nil {
			byPath[p.PkgPath] = ssaPkgs[i]
		}
	}
	for _, dir := range dirs {
		path := module + "/" + strings.TrimPrefix(dir, "./")
		if msgs := packageErrors(loaded[path]); len(msgs) > 0 {
			errs[dir] = fmt.Errorf("templatecheck: %s does not compile: %s", path, strings.Join(msgs, "; "))
			continue
		}
		mainPkg := byPath[path]
		if mainPkg == nil {
			errs[dir] = fmt.Errorf("templatecheck: package %s did not load", path)
			continue
		}
		if mainPkg.Pkg.Name() != "main" || mainPkg.Func("main") == nil {
			errs[dir] = fmt.Errorf("templatecheck: %s is not a main package with func main", path)
			continue
		}
		roots := []*ssa.Function{mainPkg.Func("main"), mainPkg.Func("init")}
		uses[dir] = scanReachable(prog.Fset, reachable(prog, roots, module), module)
	}
	return uses, errs
}

// packageErrors returns the errors of p and of every package it imports.
func packageErrors(p *packages.Package) []string {
	if p == nil {
		return []string{"package not found"}
	}
	var msgs []string
	packages.Visit([]*packages.Package{p}, nil, func(q *packages.Package) {
		for _, e := range q.Errors {
			msgs = append(msgs, e.Error())
		}
	})
	return msgs
}

// reachable returns the module's functions reachable from roots. It follows
// static calls and every function used as a value. An interface method call
// reaches the method of each module type that implements the interface and
// that reachable code converts to an interface, as rapid type analysis does.
// Unlike golang.org/x/tools/go/callgraph/rta it does not assume that
// reflection calls every exported method of such a type, because that would
// count every exported method of the store as called.
func reachable(prog *ssa.Program, roots []*ssa.Function, module string) map[*ssa.Function]bool {
	type site struct {
		iface  *types.Interface
		method *types.Func
	}
	var (
		seen         = map[*ssa.Function]bool{}
		queue        []*ssa.Function
		sites        []site
		runtimeTypes []types.Type
		typeSeen     = map[string]bool{}
	)
	add := func(fn *ssa.Function) {
		if fn != nil && !seen[fn] {
			seen[fn] = true
			queue = append(queue, fn)
		}
	}
	dispatch := func(t types.Type, s site) {
		if !types.Implements(t, s.iface) {
			return
		}
		if sel := prog.MethodSets.MethodSet(t).Lookup(s.method.Pkg(), s.method.Name()); sel != nil {
			add(prog.MethodValue(sel))
		}
	}
	for _, r := range roots {
		add(r)
	}
	for len(queue) > 0 {
		fn := queue[0]
		queue = queue[1:]
		for _, anon := range fn.AnonFuncs {
			add(anon)
		}
		for _, b := range fn.Blocks {
			for _, instr := range b.Instrs {
				for _, op := range instr.Operands(nil) {
					if f, ok := (*op).(*ssa.Function); ok {
						add(f)
					}
				}
				switch x := instr.(type) {
				case ssa.CallInstruction:
					c := x.Common()
					if !c.IsInvoke() {
						continue
					}
					s := site{c.Value.Type().Underlying().(*types.Interface), c.Method}
					sites = append(sites, s)
					for _, t := range runtimeTypes {
						dispatch(t, s)
					}
				case *ssa.MakeInterface:
					t := x.X.Type()
					named, isNamed := types.Unalias(t).(*types.Named)
					if ptr, ok := t.(*types.Pointer); ok {
						named, isNamed = types.Unalias(ptr.Elem()).(*types.Named)
					}
					if !isNamed || named.Obj().Pkg() == nil || !inModulePath(named.Obj().Pkg().Path(), module) {
						continue
					}
					if key := types.TypeString(t, nil); !typeSeen[key] {
						typeSeen[key] = true
						runtimeTypes = append(runtimeTypes, t)
						for _, s := range sites {
							dispatch(t, s)
						}
					}
					// Code outside the module, such as net/http, may call the
					// methods the target interface declares.
					if iface, ok := x.Type().Underlying().(*types.Interface); ok {
						for i := 0; i < iface.NumMethods(); i++ {
							dispatch(t, site{iface, iface.Method(i)})
						}
					}
				}
			}
		}
	}
	for fn := range seen {
		if !inModule(fn, module) {
			delete(seen, fn)
		}
	}
	return seen
}

func scanReachable(fset *token.FileSet, fns map[*ssa.Function]bool, module string) CodeUse {
	use := CodeUse{Env: map[string][]string{}, Actions: map[string][]string{}}
	for fn := range fns {
		where := describe(fset, fn, module)
		readsEnv := false
		var names []string
		for _, b := range fn.Blocks {
			for _, instr := range b.Instrs {
				for _, action := range actionsOf(instr) {
					use.Actions[action] = appendOnce(use.Actions[action], where)
				}
				for _, op := range instr.Operands(nil) {
					if s, ok := constString(*op); ok && envNamePattern.MatchString(s) {
						names = append(names, s)
					}
				}
				if call, ok := instr.(ssa.CallInstruction); ok && readsEnvironment(call.Common()) {
					readsEnv = true
				}
			}
		}
		if readsEnv {
			for _, name := range names {
				use.Env[name] = appendOnce(use.Env[name], where)
			}
		}
	}
	return use
}

// describe names a function and its position for messages, such as
// "store.(*Tenant).PutCall (shared/store/calls.go:120)".
func describe(fset *token.FileSet, fn *ssa.Function, module string) string {
	pos := fset.Position(fn.Pos())
	file := pos.Filename
	if i := strings.Index(file, "/shared/"); i >= 0 {
		file = file[i+1:]
	} else if i := strings.Index(file, "/functions/"); i >= 0 {
		file = file[i+1:]
	}
	name := strings.ReplaceAll(fn.String(), module+"/", "")
	return fmt.Sprintf("%s (%s:%d)", name, file, pos.Line)
}

func inModule(fn *ssa.Function, module string) bool {
	if o := fn.Origin(); o != nil {
		fn = o
	}
	for fn.Parent() != nil {
		fn = fn.Parent()
	}
	if fn.Pkg == nil {
		return false
	}
	return inModulePath(fn.Pkg.Pkg.Path(), module)
}

func inModulePath(p, module string) bool {
	return p == module || strings.HasPrefix(p, module+"/")
}

// actionsOf returns the IAM action of the request an instruction creates:
// an allocation of an SDK operation's input (such as &dynamodb.GetItemInput{})
// or of a transaction item. Only creating a request counts, so code that
// merely inspects requests, such as a middleware's type switch, does not.
func actionsOf(instr ssa.Instruction) []string {
	alloc, ok := instr.(*ssa.Alloc)
	if !ok {
		return nil
	}
	if a := actionOfType(alloc.Type()); a != "" {
		return []string{a}
	}
	return nil
}

func actionOfType(t types.Type) string {
	for {
		p, ok := t.(*types.Pointer)
		if !ok {
			break
		}
		t = p.Elem()
	}
	named, ok := t.(*types.Named)
	if !ok || named.Obj().Pkg() == nil {
		return ""
	}
	path, name := named.Obj().Pkg().Path(), named.Obj().Name()
	if path == "github.com/aws/aws-sdk-go-v2/service/dynamodb/types" {
		return transactItemActions[name]
	}
	prefix, ok := servicePrefixes[path]
	if !ok {
		return ""
	}
	op, ok := strings.CutSuffix(name, "Input")
	if !ok || op == "" {
		return ""
	}
	action := prefix + ":" + op
	if mapped, ok := iamActionOf[action]; ok {
		return mapped
	}
	return action
}

// readsEnvironment reports whether a call reads environment variables. Such
// calls are calls of os.Getenv and os.LookupEnv, calls of a function or
// function value whose name contains "env" (such as envOr or a getenv
// parameter), and calls that pass such a function value on. A function that
// makes such a call counts as reading every constant in it that looks like a
// variable name, which covers tables of settings read in a loop.
func readsEnvironment(c *ssa.CallCommon) bool {
	if c.IsInvoke() {
		return false
	}
	name := valueName(c.Value)
	if callee := c.StaticCallee(); callee != nil {
		name = callee.Name()
		if o := callee.Origin(); o != nil {
			name = o.Name()
		}
	}
	if strings.Contains(strings.ToLower(name), "env") {
		return true
	}
	for _, a := range c.Args {
		if _, isFunc := a.Type().Underlying().(*types.Signature); isFunc && strings.Contains(strings.ToLower(valueName(a)), "env") {
			return true
		}
	}
	return false
}

// valueName returns the source name of a function value: a parameter, free
// variable, global or struct field, or one of those reaching a phi node (as
// in "if getenv == nil { getenv = os.Getenv }").
func valueName(v ssa.Value) string {
	return valueNameDepth(v, 0)
}

func valueNameDepth(v ssa.Value, depth int) string {
	if depth > 4 {
		return ""
	}
	switch x := v.(type) {
	case *ssa.Phi:
		for _, e := range x.Edges {
			if n := valueNameDepth(e, depth+1); n != "" {
				return n
			}
		}
	case *ssa.Function:
		return x.Name()
	case *ssa.Parameter:
		return x.Name()
	case *ssa.FreeVar:
		return x.Name()
	case *ssa.Global:
		return x.Name()
	case *ssa.UnOp:
		return valueNameDepth(x.X, depth+1)
	case *ssa.FieldAddr:
		return fieldName(x.X.Type(), x.Field)
	case *ssa.Field:
		return fieldName(x.X.Type(), x.Field)
	}
	return ""
}

func fieldName(t types.Type, i int) string {
	if p, ok := t.Underlying().(*types.Pointer); ok {
		t = p.Elem()
	}
	if s, ok := t.Underlying().(*types.Struct); ok && i < s.NumFields() {
		return s.Field(i).Name()
	}
	return ""
}

func constString(v ssa.Value) (string, bool) {
	c, ok := v.(*ssa.Const)
	if !ok || c.Value == nil || c.Value.Kind() != constant.String {
		return "", false
	}
	return constant.StringVal(c.Value), true
}

func appendOnce(list []string, s string) []string {
	for _, e := range list {
		if e == s {
			return list
		}
	}
	list = append(list, s)
	sort.Strings(list)
	return list
}

// Names returns the keys of m, sorted.
func Names[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

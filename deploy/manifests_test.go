// Package deploy_test checks the deployment files in deploy/ against the
// gateway they deploy: the Kubernetes manifests decode strictly into the
// official API types (a misspelled field fails), kustomize builds them, and
// their ports, probes, env names, config keys and mounted paths agree with
// the gateway's real config and listeners; the Dockerfile's build line makes
// a static binary that starts as the image starts it; and compose's wiring
// (two replicas, Redis, the sandbox) runs without Docker.
package deploy_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/intercom-gateway/intercom-gateway/config"
)

// objects is a kustomize build (or a manifest file) decoded strictly into
// the Kubernetes API types, by kind and name.
type objects struct {
	deployments  map[string]*appsv1.Deployment
	statefulsets map[string]*appsv1.StatefulSet
	services     map[string]*corev1.Service
	configmaps   map[string]*corev1.ConfigMap
	secrets      map[string]*corev1.Secret
	kinds        []string
}

// decodeStrict decodes one YAML document into the API type of its kind;
// unknown fields and unknown kinds are errors.
func decodeStrict(doc []byte, objs *objects) error {
	var meta struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return err
	}
	name := meta.Metadata.Name
	var into any
	switch meta.Kind {
	case "Deployment":
		d := &appsv1.Deployment{}
		objs.deployments[name], into = d, d
	case "StatefulSet":
		s := &appsv1.StatefulSet{}
		objs.statefulsets[name], into = s, s
	case "Service":
		s := &corev1.Service{}
		objs.services[name], into = s, s
	case "ConfigMap":
		c := &corev1.ConfigMap{}
		objs.configmaps[name], into = c, c
	case "Secret":
		s := &corev1.Secret{}
		objs.secrets[name], into = s, s
	case "ServiceAccount":
		into = &corev1.ServiceAccount{}
	case "PodDisruptionBudget":
		into = &policyv1.PodDisruptionBudget{}
	case "HorizontalPodAutoscaler":
		into = &autoscalingv2.HorizontalPodAutoscaler{}
	case "NetworkPolicy":
		into = &networkingv1.NetworkPolicy{}
	case "Role":
		into = &rbacv1.Role{}
	case "RoleBinding":
		into = &rbacv1.RoleBinding{}
	default:
		return fmt.Errorf("kind %q of %q is not one this test knows: add it to decodeStrict", meta.Kind, name)
	}
	objs.kinds = append(objs.kinds, meta.Kind+"/"+name)
	if err := yaml.UnmarshalStrict(doc, into); err != nil {
		return fmt.Errorf("%s %q: %w", meta.Kind, name, err)
	}
	return nil
}

func decodeAll(t *testing.T, stream []byte) objects {
	t.Helper()
	objs := objects{
		deployments: map[string]*appsv1.Deployment{}, statefulsets: map[string]*appsv1.StatefulSet{},
		services: map[string]*corev1.Service{}, configmaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
	}
	for _, doc := range bytes.Split(stream, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 || bytes.HasPrefix(bytes.TrimSpace(doc), []byte("#")) && !bytes.Contains(doc, []byte("kind:")) {
			continue
		}
		if err := decodeStrict(doc, &objs); err != nil {
			t.Error(err)
		}
	}
	return objs
}

func kustomize(t *testing.T, dir string) []byte {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestManifestFilesDecodeStrictly decodes every file of the base on its own,
// so a misspelled field fails even where kustomize would pass it through.
func TestManifestFilesDecodeStrictly(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("kubernetes/base/*.yaml")
	for _, f := range files {
		if strings.HasSuffix(f, "kustomization.yaml") || strings.HasSuffix(f, "gateway.yaml") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs := decodeAll(t, b)
		if len(objs.kinds) == 0 {
			t.Errorf("%s holds no object", f)
		}
	}
}

// TestMisspelledFieldIsCaught shows the strict decoding can fail.
func TestMisspelledFieldIsCaught(t *testing.T) {
	t.Parallel()
	doc := []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  prots:\n    - port: 1\n")
	objs := objects{services: map[string]*corev1.Service{}}
	if err := decodeStrict(doc, &objs); err == nil {
		t.Fatal("a Service with `prots` decoded without error")
	}
}

// TestKustomizeBuildsAgreeWithTheGateway builds the base and the example
// overlay and checks each against the gateway's own config and listeners.
func TestKustomizeBuildsAgreeWithTheGateway(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"kubernetes/base", "kubernetes/overlays/example"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			objs := decodeAll(t, kustomize(t, dir))
			checkGatewayDeployment(t, objs)
		})
	}
}

func checkGatewayDeployment(t *testing.T, objs objects) {
	dep := objs.deployments["intercom-gateway"]
	if dep == nil {
		t.Fatalf("no Deployment intercom-gateway among %v", objs.kinds)
	}
	if r := dep.Spec.Replicas; r == nil || *r < 3 {
		t.Errorf("replicas = %v, want at least 3", r)
	}
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("gateway pod has %d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]

	// The config file: mounted where --config names it, from the ConfigMap,
	// and loaded by the gateway's own loader (unknown keys fail).
	if len(c.Args) != 2 || c.Args[0] != "--config" {
		t.Fatalf("container args = %q, want [--config FILE]", c.Args)
	}
	configPath := c.Args[1]
	cmName := volumeSource(t, pod, mountFor(t, c, filepath.Dir(configPath))).ConfigMap.Name
	cm := objs.configmaps[cmName]
	if cm == nil {
		t.Fatalf("ConfigMap %q (mounted for the config) is not in the build", cmName)
	}
	raw, ok := cm.Data[filepath.Base(configPath)]
	if !ok {
		t.Fatalf("ConfigMap %q has no key %q", cmName, filepath.Base(configPath))
	}
	cfg := loadConfig(t, raw, pod, c, objs)

	// Listeners, container ports, the Service and the probes agree.
	grpcPort, httpPort := port(t, cfg.Listen.GRPCAddr), port(t, cfg.Listen.HTTPAddr)
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["grpc"] != grpcPort || ports["http"] != httpPort {
		t.Errorf("container ports %v; the config listens on gRPC %d and HTTP %d", ports, grpcPort, httpPort)
	}
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.GRPC == nil || p.GRPC.Port != grpcPort {
			t.Errorf("%s probe is not a gRPC health probe on %d: %+v", name, grpcPort, p)
		}
	}
	if got := dep.Spec.Template.Annotations["prometheus.io/port"]; got != strconv.Itoa(int(httpPort)) {
		t.Errorf("prometheus.io/port = %q, but /metrics is on the HTTP listener %d", got, httpPort)
	}
	svc := objs.services["intercom-gateway"]
	if svc == nil {
		t.Fatal("no Service intercom-gateway")
	}
	for _, sp := range svc.Spec.Ports {
		if _, ok := ports[sp.TargetPort.String()]; !ok {
			t.Errorf("Service port %q targets %q, which the container does not name", sp.Name, sp.TargetPort.String())
		}
		if sp.AppProtocol == nil {
			t.Errorf("Service port %q has no appProtocol", sp.Name)
		}
	}

	// The drain fits in the grace period the kubelet gives.
	var preStop int64
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		preStop = c.Lifecycle.PreStop.Sleep.Seconds
	}
	if preStop == 0 {
		t.Error("no preStop sleep: endpoints may still send calls after SIGTERM")
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g < preStop+int64(cfg.Listen.ShutdownGrace.Seconds()) {
		t.Errorf("terminationGracePeriodSeconds %v < preStop %d + shutdown_grace %v", g, preStop, cfg.Listen.ShutdownGrace)
	}

	// A restrictive security context.
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("container securityContext is not restrictive: %+v", sc)
	}
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Error("pod does not require a non-root user")
	}

	// Env names are ones something reads: the gateway's config, OTel's
	// standard variables, or the Go runtime.
	known := configEnvNames()
	for _, e := range c.Env {
		switch {
		case known[e.Name], strings.HasPrefix(e.Name, "OTEL_"), e.Name == "GOMEMLIMIT":
		default:
			t.Errorf("env %s is read by nothing in the gateway", e.Name)
		}
	}

	// Redis and the collector named in the config and env are Services of
	// the build, on the ports they serve.
	if cfg.Redis.Addr != "" {
		checkServiceAddr(t, objs, "redis.addr", cfg.Redis.Addr)
	}
	for _, e := range c.Env {
		if e.Name == "OTEL_EXPORTER_OTLP_ENDPOINT" {
			checkServiceAddr(t, objs, e.Name, strings.TrimPrefix(e.Value, "http://"))
		}
	}
}

// loadConfig runs the gateway's config loader on the ConfigMap's file, with
// every file it names (tokens, the key-hash secret) checked to be mounted
// from a Secret of the build and replaced by a local stand-in.
func loadConfig(t *testing.T, raw string, pod corev1.PodSpec, c corev1.Container, objs objects) config.Config {
	t.Helper()
	dir := t.TempDir()
	var mounted []string
	for _, field := range []string{"token_file", "hmac_secret_file", "password_file", "cert_file", "key_file", "client_ca_file"} {
		for _, line := range strings.Split(raw, "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !ok || k != field {
				continue
			}
			path := strings.Trim(strings.TrimSpace(v), `"`)
			vol := volumeSource(t, pod, mountFor(t, c, filepath.Dir(path)))
			if vol.Secret == nil {
				t.Errorf("%s %s is not mounted from a Secret", field, path)
				continue
			}
			if sec := objs.secrets[vol.Secret.SecretName]; sec != nil {
				if _, ok := sec.Data[filepath.Base(path)]; !ok {
					t.Errorf("Secret %q has no key %q for %s", vol.Secret.SecretName, filepath.Base(path), field)
				}
			}
			local := filepath.Join(dir, strconv.Itoa(len(mounted)))
			if err := os.WriteFile(local, []byte("0123456789abcdef0123456789abcdef-stand-in"), 0o600); err != nil {
				t.Fatal(err)
			}
			raw = strings.ReplaceAll(raw, path, local)
			mounted = append(mounted, path)
		}
	}
	// Callers' placeholder hashes are for the operator to replace; swap in
	// well-formed ones so the rest of the file is what is checked.
	raw = placeholderHash.Replace(raw)
	file := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(file, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load("gateway", []string{"--config", file}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatalf("the gateway refuses the ConfigMap's config: %v", err)
	}
	return cfg
}

var placeholderHash = strings.NewReplacer("hmac-sha256:REPLACE_WITH_THE_HASH_FROM_gateway_keys_new______", "hmac-sha256:"+strings.Repeat("B", 43))

func mountFor(t *testing.T, c corev1.Container, dir string) string {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if filepath.Clean(m.MountPath) == filepath.Clean(dir) {
			if m.SubPath != "" {
				t.Errorf("volume %q is mounted with subPath: Kubernetes never updates such a file, so rotation would need a restart", m.Name)
			}
			return m.Name
		}
	}
	t.Fatalf("nothing is mounted at %s", dir)
	return ""
}

func volumeSource(t *testing.T, pod corev1.PodSpec, name string) corev1.VolumeSource {
	t.Helper()
	for _, v := range pod.Volumes {
		if v.Name == name {
			return v.VolumeSource
		}
	}
	t.Fatalf("no volume %q", name)
	return corev1.VolumeSource{}
}

func port(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, ok := strings.Cut(addr, ":")
	n, err := strconv.Atoi(p)
	if !ok || err != nil {
		t.Fatalf("listen address %q has no port", addr)
	}
	return int32(n)
}

func checkServiceAddr(t *testing.T, objs objects, what, addr string) {
	t.Helper()
	host, p, _ := strings.Cut(addr, ":")
	svc := objs.services[host]
	if svc == nil {
		t.Errorf("%s names %q, which is not a Service of the build", what, host)
		return
	}
	for _, sp := range svc.Spec.Ports {
		if strconv.Itoa(int(sp.Port)) == p {
			return
		}
	}
	t.Errorf("%s names port %s, which Service %q does not serve", what, p, host)
}

// configEnvNames are the variables the gateway's config reads (the env
// struct tags of config.Config).
func configEnvNames() map[string]bool {
	names := map[string]bool{}
	for _, e := range config.Reference() {
		if e.Env != "" {
			names[e.Env] = true
		}
	}
	return names
}

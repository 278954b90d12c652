package k8stest

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func renderBase(t *testing.T) [][]byte {
	t.Helper()
	docs, err := render(base)
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// problems decodes docs and returns every problem the checks find.
func problems(t *testing.T, docs [][]byte, mutate func(*manifests)) error {
	t.Helper()
	m, err := decode(docs)
	if err != nil {
		return err
	}
	if mutate != nil {
		mutate(m)
	}
	return errors.Join(append(check(m), checkConfigs(m, t.TempDir())...)...)
}

// TestBase renders deploy/k8s and requires a valid, consistent base with
// the shape docs/DEPLOYMENT.md describes.
func TestBase(t *testing.T) {
	docs := renderBase(t)
	if err := problems(t, docs, nil); err != nil {
		t.Fatalf("deploy/k8s:\n%v", err)
	}
	m, err := decode(docs)
	if err != nil {
		t.Fatal(err)
	}
	sts := map[string]*appsv1.StatefulSet{}
	for _, s := range m.statefulSets {
		sts[s.Name] = s
	}
	meta, storage := sts["shoal-meta"], sts["shoal-storage"]
	switch {
	case meta == nil || storage == nil:
		t.Fatalf("StatefulSets %v, want shoal-meta and shoal-storage", sts)
	case replicas(meta.Spec.Replicas) != 3 || meta.Spec.PodManagementPolicy != appsv1.ParallelPodManagement:
		t.Errorf("shoal-meta: %d replicas, %s pod management; want 3, Parallel", replicas(meta.Spec.Replicas), meta.Spec.PodManagementPolicy)
	case len(storage.Spec.VolumeClaimTemplates) != 1:
		t.Errorf("shoal-storage: %d volumeClaimTemplates, want 1", len(storage.Spec.VolumeClaimTemplates))
	}
	if len(m.deployments) != 1 || m.deployments[0].Name != "shoal-router" || len(m.hpas) != 1 {
		t.Errorf("want the shoal-router Deployment and its autoscaler; have %d deployments, %d autoscalers", len(m.deployments), len(m.hpas))
	}
	if len(m.pdbs) != 3 || len(m.configMaps) != 1 {
		t.Errorf("%d PodDisruptionBudgets and %d ConfigMaps, want 3 (meta, storage, router) and 1", len(m.pdbs), len(m.configMaps))
	}
	for _, s := range m.services {
		if strings.HasSuffix(s.Name, "-headless") && !s.Spec.PublishNotReadyAddresses {
			t.Errorf("%s: members must resolve each other before they are ready (publishNotReadyAddresses)", s.Name)
		}
	}
}

// TestChecksCatch breaks the base in the ways the checks exist for and
// expects each to be reported.
func TestChecksCatch(t *testing.T) {
	docs := renderBase(t)
	f := func(name string, edit func(doc []byte) []byte, mutate func(*manifests), want string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			in := docs
			if edit != nil {
				in = nil
				for _, d := range docs {
					in = append(in, edit(d))
				}
			}
			err := problems(t, in, mutate)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("got %v, want an error containing %q", err, want)
			}
		})
	}
	replace := func(old, new string) func([]byte) []byte {
		return func(d []byte) []byte { return bytes.Replace(d, []byte(old), []byte(new), 1) }
	}
	sts := func(m *manifests, name string) *appsv1.StatefulSet {
		for _, s := range m.statefulSets {
			if s.Name == name {
				return s
			}
		}
		t.Fatalf("no StatefulSet %s", name)
		return nil
	}
	svc := func(m *manifests, name string) *corev1.Service {
		for _, s := range m.services {
			if s.Name == name {
				return s
			}
		}
		t.Fatalf("no Service %s", name)
		return nil
	}

	f("misspelt field", replace("podManagementPolicy:", "podManagmentPolicy:"), nil, `unknown field "podManagmentPolicy"`)
	f("wrong type", replace("replicas: 3", "replicas: three"), nil, "replicas")
	f("unknown kind", replace("kind: Service\n", "kind: Servic\n"), nil, "not a kind this base uses")
	f("headless service name", nil, func(m *manifests) { sts(m, "shoal-meta").Spec.ServiceName = "meta" }, `serviceName "meta" names no Service`)
	f("headless service with a cluster IP", nil, func(m *manifests) { svc(m, "shoal-storage-headless").Spec.ClusterIP = "" }, "is not a headless Service")
	f("selector does not match the template", nil, func(m *manifests) {
		sts(m, "shoal-storage").Spec.Selector.MatchLabels["app.kubernetes.io/component"] = "store"
	}, "does not match the pod template's labels")
	f("service selects nothing", nil, func(m *manifests) { svc(m, "shoal").Spec.Selector["app.kubernetes.io/component"] = "routers" }, "selects no pods")
	f("service target port", nil, func(m *manifests) { svc(m, "shoal").Spec.Ports[1].TargetPort = intstr.FromString("rpc") }, "targets rpc")
	f("probe port", nil, func(m *manifests) {
		sts(m, "shoal-meta").Spec.Template.Spec.Containers[0].ReadinessProbe.HTTPGet.Port = intstr.FromString("apii")
	}, `readiness probe uses port "apii"`)
	f("missing ConfigMap", nil, func(m *manifests) { m.configMaps[0].Name = "other" }, "which is not in the base")
	f("PDB selects nothing", nil, func(m *manifests) { m.pdbs[0].Spec.Selector.MatchLabels["app.kubernetes.io/component"] = "x" }, "selects the pods of 0 workloads")
	f("HPA target", nil, func(m *manifests) { m.hpas[0].Spec.ScaleTargetRef.Name = "router" }, "targets apps/v1 Deployment router")
	f("undefined variable", nil, func(m *manifests) {
		c := &sts(m, "shoal-storage").Spec.Template.Spec.Containers[0]
		c.Env = c.Env[1:] // drop POD_NAME
	}, "uses $(POD_NAME) before it is defined")
	f("port disagrees with config.yaml", nil, func(m *manifests) {
		sts(m, "shoal-meta").Spec.Template.Spec.Containers[0].Ports[2].ContainerPort = 7000
	}, "but the configuration listens on")
	f("unknown configuration key", replace("bootstrap_timeout_sec:", "bootstrap_timeout:"), nil, "bootstrap_timeout")
	f("bootstrap is not pod 0", nil, func(m *manifests) {
		args := sts(m, "shoal-meta").Spec.Template.Spec.Containers[0].Args
		for i, a := range args {
			if strings.HasPrefix(a, "--bootstrap=") {
				args[i] = strings.Replace(a, "shoal-meta-0", "shoal-meta-1", 1)
			}
		}
	}, "want pod 0's peer URL")
	f("storage advertises an unresolvable name", nil, func(m *manifests) {
		c := &sts(m, "shoal-storage").Spec.Template.Spec.Containers[0]
		for i := range c.Env {
			if c.Env[i].Name == "SHOAL__NODE__URI" {
				c.Env[i].Value = "http://$(POD_NAME):6335"
			}
		}
	}, "want the pod's DNS name")
	f("meta endpoints miss a member", nil, func(m *manifests) {
		c := &m.deployments[0].Spec.Template.Spec.Containers[0]
		for i := range c.Env {
			if c.Env[i].Name == "SHOAL__META__ENDPOINTS" {
				c.Env[i].Value = c.Env[i].Value[:strings.LastIndex(c.Env[i].Value, ",")]
			}
		}
	}, "want every meta pod's client URL")
	f("data dir not writable", nil, func(m *manifests) {
		c := &sts(m, "shoal-storage").Spec.Template.Spec.Containers[0]
		c.VolumeMounts[0].ReadOnly = true
	}, "is not a writable volume mount")
}

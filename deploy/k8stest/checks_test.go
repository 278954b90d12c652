package k8stest

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// imageUser is the numeric user the images run as (deploy/docker).
const imageUser = 65532

// matchLabels returns a selector's matchLabels; a selector with
// matchExpressions returns nil, which selects nothing here (the base uses
// matchLabels only).
func matchLabels(s *metav1.LabelSelector) map[string]string {
	if s == nil || len(s.MatchExpressions) > 0 {
		return nil
	}
	return s.MatchLabels
}

// selects reports whether a non-empty selector matches labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// check runs every cross-reference check and returns the problems found.
func check(m *manifests) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	names := map[string]bool{}
	for _, n := range m.objectNames() {
		if names[n] {
			add("%s: defined twice", n)
		}
		names[n] = true
	}
	cms := map[string]bool{}
	for _, c := range m.configMaps {
		cms[c.Name] = true
	}
	for _, w := range m.workloads() {
		errs = append(errs, checkWorkload(m, w, cms)...)
	}
	for _, s := range m.services {
		errs = append(errs, checkService(m, s)...)
	}
	for _, p := range m.pdbs {
		n := 0
		for _, w := range m.workloads() {
			if selects(matchLabels(p.Spec.Selector), w.template.Labels) {
				n++
			}
		}
		if n != 1 {
			add("PodDisruptionBudget %s selects the pods of %d workloads, want 1", p.Name, n)
		}
		if (p.Spec.MaxUnavailable == nil) == (p.Spec.MinAvailable == nil) {
			add("PodDisruptionBudget %s: set exactly one of minAvailable and maxUnavailable", p.Name)
		}
	}
	for _, h := range m.hpas {
		ref := h.Spec.ScaleTargetRef
		var target *workload
		for _, w := range m.workloads() {
			if ref.APIVersion == "apps/v1" && ref.Kind == w.kind && ref.Name == w.name {
				target = &w
			}
		}
		switch {
		case target == nil:
			add("HorizontalPodAutoscaler %s targets %s %s %s, which is not in the base", h.Name, ref.APIVersion, ref.Kind, ref.Name)
		case h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || *h.Spec.MinReplicas > h.Spec.MaxReplicas:
			add("HorizontalPodAutoscaler %s: want 1 <= minReplicas <= maxReplicas", h.Name)
		default:
			for _, c := range target.template.Spec.Containers {
				if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
					add("HorizontalPodAutoscaler %s scales on CPU but container %s of %s requests no CPU", h.Name, c.Name, target.name)
				}
			}
		}
	}
	return errs
}

// objectNames lists kind/name of every object.
func (m *manifests) objectNames() []string {
	var out []string
	for _, o := range m.services {
		out = append(out, "Service/"+o.Name)
	}
	for _, o := range m.configMaps {
		out = append(out, "ConfigMap/"+o.Name)
	}
	for _, w := range m.workloads() {
		out = append(out, w.kind+"/"+w.name)
	}
	for _, o := range m.hpas {
		out = append(out, "HorizontalPodAutoscaler/"+o.Name)
	}
	for _, o := range m.pdbs {
		out = append(out, "PodDisruptionBudget/"+o.Name)
	}
	return out
}

// varRef is a $(VAR) reference in args or env values.
var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func checkWorkload(m *manifests, w workload, configMaps map[string]bool) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s %s: "+format, append([]any{w.kind, w.name}, args...)...))
	}
	for _, msg := range validation.IsDNS1123Subdomain(w.name) {
		add("name: %s", msg)
	}
	if !selects(w.selector, w.template.Labels) {
		add("selector %v does not match the pod template's labels %v", w.selector, w.template.Labels)
	}
	spec := &w.template.Spec
	if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != imageUser || sc.FSGroup == nil || *sc.FSGroup != imageUser {
		add("pod securityContext: want runAsNonRoot, runAsUser and fsGroup %d (the images' user)", imageUser)
	}
	if a := spec.Affinity; a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		add("no preferred pod anti-affinity")
	} else {
		for _, t := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			if !selects(matchLabels(t.PodAffinityTerm.LabelSelector), w.template.Labels) || t.PodAffinityTerm.TopologyKey == "" {
				add("anti-affinity term %v does not spread this workload's own pods", t.PodAffinityTerm.LabelSelector)
			}
		}
	}
	volumes := map[string]bool{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = true
		if v.ConfigMap != nil && !configMaps[v.ConfigMap.Name] {
			add("volume %s mounts ConfigMap %s, which is not in the base", v.Name, v.ConfigMap.Name)
		}
	}
	for _, c := range w.claims {
		if volumes[c.Name] {
			add("volume %s is both a pod volume and a volumeClaimTemplate", c.Name)
		}
		volumes[c.Name] = true
		if _, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
			add("volumeClaimTemplate %s requests no storage", c.Name)
		}
	}
	if w.kind == "StatefulSet" {
		var headless *corev1.Service
		for _, s := range m.services {
			if s.Name == w.service {
				headless = s
			}
		}
		switch {
		case headless == nil:
			add("serviceName %q names no Service of the base", w.service)
		case headless.Spec.ClusterIP != corev1.ClusterIPNone:
			add("serviceName %s is not a headless Service (clusterIP: None)", w.service)
		case !selects(headless.Spec.Selector, w.template.Labels):
			add("headless Service %s does not select this StatefulSet's pods", w.service)
		}
	}
	if len(spec.Containers) == 0 {
		add("no containers")
	}
	for _, c := range spec.Containers {
		errs = append(errs, checkContainer(w, c, volumes)...)
	}
	return errs
}

func checkContainer(w workload, c corev1.Container, volumes map[string]bool) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s %s container %s: "+format, append([]any{w.kind, w.name, c.Name}, args...)...))
	}
	if c.Image == "" {
		add("no image")
	}
	ports := map[string]int32{}
	numbers := map[int32]bool{}
	for _, p := range c.Ports {
		for _, msg := range validation.IsValidPortName(p.Name) {
			add("port name %q: %s", p.Name, msg)
		}
		if _, dup := ports[p.Name]; dup {
			add("port name %s used twice", p.Name)
		}
		ports[p.Name], numbers[p.ContainerPort] = p.ContainerPort, true
	}
	probes := map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe}
	for kind, p := range probes {
		switch {
		case p == nil && kind != "startup":
			add("no %s probe", kind)
		case p == nil:
		case p.HTTPGet == nil:
			add("%s probe is not an httpGet", kind)
		case !strings.HasPrefix(p.HTTPGet.Path, "/"):
			add("%s probe path %q", kind, p.HTTPGet.Path)
		case p.HTTPGet.Port.Type == intstr.String && ports[p.HTTPGet.Port.StrVal] == 0:
			add("%s probe uses port %q, not a port of the container", kind, p.HTTPGet.Port.StrVal)
		case p.HTTPGet.Port.Type == intstr.Int && !numbers[p.HTTPGet.Port.IntVal]:
			add("%s probe uses port %d, not a port of the container", kind, p.HTTPGet.Port.IntVal)
		}
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			add("no %s request", r)
		}
	}
	for _, vm := range c.VolumeMounts {
		if !volumes[vm.Name] {
			add("mounts volume %s, which the pod does not have", vm.Name)
		}
	}
	// $(VAR): env values may use variables defined before them, args any.
	defined := map[string]bool{}
	for _, e := range c.Env {
		for _, ref := range varRef.FindAllStringSubmatch(e.Value, -1) {
			if !defined[ref[1]] {
				add("env %s uses $(%s) before it is defined", e.Name, ref[1])
			}
		}
		defined[e.Name] = true
	}
	for _, a := range append(append([]string{}, c.Command...), c.Args...) {
		for _, ref := range varRef.FindAllStringSubmatch(a, -1) {
			if !defined[ref[1]] {
				add("argument %q uses $(%s), which the container does not define", a, ref[1])
			}
		}
	}
	return errs
}

func checkService(m *manifests, s *corev1.Service) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("Service %s: "+format, append([]any{s.Name}, args...)...))
	}
	for _, msg := range validation.IsDNS1035Label(s.Name) {
		add("name: %s", msg)
	}
	var selected []workload
	for _, w := range m.workloads() {
		if selects(s.Spec.Selector, w.template.Labels) {
			selected = append(selected, w)
		}
	}
	if len(selected) == 0 {
		add("selector %v selects no pods of the base", s.Spec.Selector)
	}
	for _, p := range s.Spec.Ports {
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port) // the API's default
		}
		for _, w := range selected {
			found := false
			for _, c := range w.template.Spec.Containers {
				for _, cp := range c.Ports {
					if (target.Type == intstr.String && cp.Name == target.StrVal) || (target.Type == intstr.Int && cp.ContainerPort == target.IntVal) {
						found = true
					}
				}
			}
			if !found {
				add("port %s targets %s, which %s %s's containers do not expose", p.Name, target.String(), w.kind, w.name)
			}
		}
	}
	return errs
}

package k8stest

import (
	"fmt"
	"path/filepath"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// base is the kustomization under test.
var base = filepath.Join("..", "k8s")

// manifests are the rendered objects, by kind, in rendering order.
type manifests struct {
	services     []*corev1.Service
	configMaps   []*corev1.ConfigMap
	statefulSets []*appsv1.StatefulSet
	deployments  []*appsv1.Deployment
	hpas         []*autoscalingv2.HorizontalPodAutoscaler
	pdbs         []*policyv1.PodDisruptionBudget
}

// render runs kustomize on dir (no network, no plugins) and returns each
// rendered object as YAML.
func render(dir string) ([][]byte, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var docs [][]byte
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		docs = append(docs, y)
	}
	return docs, nil
}

// decode decodes each document strictly (unknown and duplicate fields are
// errors) into the Kubernetes type its apiVersion and kind name. Kinds the
// base does not use are errors too.
func decode(docs [][]byte) (*manifests, error) {
	m := &manifests{}
	for _, doc := range docs {
		var tm struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, fmt.Errorf("read type of %q: %w", doc, err)
		}
		id := tm.APIVersion + "/" + tm.Kind + " " + tm.Metadata.Name
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 Service":
			o := &corev1.Service{}
			m.services, obj = append(m.services, o), o
		case "v1 ConfigMap":
			o := &corev1.ConfigMap{}
			m.configMaps, obj = append(m.configMaps, o), o
		case "apps/v1 StatefulSet":
			o := &appsv1.StatefulSet{}
			m.statefulSets, obj = append(m.statefulSets, o), o
		case "apps/v1 Deployment":
			o := &appsv1.Deployment{}
			m.deployments, obj = append(m.deployments, o), o
		case "autoscaling/v2 HorizontalPodAutoscaler":
			o := &autoscalingv2.HorizontalPodAutoscaler{}
			m.hpas, obj = append(m.hpas, o), o
		case "policy/v1 PodDisruptionBudget":
			o := &policyv1.PodDisruptionBudget{}
			m.pdbs, obj = append(m.pdbs, o), o
		default:
			return nil, fmt.Errorf("%s: not a kind this base uses (or a wrong apiVersion)", id)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
	}
	return m, nil
}

// workload is a StatefulSet or Deployment seen through what the checks
// need.
type workload struct {
	kind, name string
	replicas   int32
	selector   map[string]string // matchLabels
	template   *corev1.PodTemplateSpec
	claims     []corev1.PersistentVolumeClaim // StatefulSet volumeClaimTemplates
	service    string                         // StatefulSet serviceName
}

func (m *manifests) workloads() []workload {
	var out []workload
	for _, s := range m.statefulSets {
		out = append(out, workload{kind: "StatefulSet", name: s.Name, replicas: replicas(s.Spec.Replicas), selector: matchLabels(s.Spec.Selector),
			template: &s.Spec.Template, claims: s.Spec.VolumeClaimTemplates, service: s.Spec.ServiceName})
	}
	for _, d := range m.deployments {
		out = append(out, workload{kind: "Deployment", name: d.Name, replicas: replicas(d.Spec.Replicas), selector: matchLabels(d.Spec.Selector), template: &d.Spec.Template})
	}
	return out
}

// replicas is the API default (1) for an unset count.
func replicas(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}

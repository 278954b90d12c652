package k8stest

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/shoaldb/shoal/pkg/config"
	corev1 "k8s.io/api/core/v1"
)

// namespace stands in for the namespace the base is applied to.
const namespace = "shoal-test"

// podConfig is one container's configuration as its binary would load it.
type podConfig struct {
	w   workload
	c   corev1.Container
	pod string // the pod name $(POD_NAME) resolves to
	cfg config.Config
}

// expand resolves $(VAR) references as the kubelet does, from vars.
func expand(s string, vars map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(ref string) string {
		if v, ok := vars[ref[2:len(ref)-1]]; ok {
			return v
		}
		return ref
	})
}

// loadConfig loads the configuration of container c of pod ordinal 0 of w
// with Shoal's configuration loader: the ConfigMap file named by --config
// (written to dir), the container's environment (downward API fields
// resolved) and its arguments.
func loadConfig(m *manifests, w workload, c corev1.Container, dir string) (podConfig, error) {
	pod := w.name + "-0"
	if w.kind == "Deployment" {
		pod = w.name + "-5d9c8b7f4-x2x7q"
	}
	vars := map[string]string{}
	var environ []string
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			switch {
			case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
				v = pod
			case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
				v = namespace
			default:
				return podConfig{}, fmt.Errorf("env %s: only metadata.name and metadata.namespace are resolved here", e.Name)
			}
		}
		v = expand(v, vars)
		vars[e.Name] = v
		environ = append(environ, e.Name+"="+v)
	}
	var args []string
	configPath := ""
	for _, a := range c.Args {
		a = expand(a, vars)
		if p, ok := strings.CutPrefix(a, "--config="); ok {
			configPath = p
			continue
		}
		args = append(args, a)
	}
	if configPath == "" {
		return podConfig{}, fmt.Errorf("no --config=PATH argument")
	}
	data, err := mountedFile(m, w, c, configPath)
	if err != nil {
		return podConfig{}, err
	}
	file := filepath.Join(dir, w.name+"-"+c.Name+".yaml")
	if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
		return podConfig{}, err
	}
	cfg, err := config.Load("shoal-"+c.Name, append([]string{"--config", file}, args...), func() []string { return environ })
	if err != nil {
		return podConfig{}, fmt.Errorf("load configuration: %w", err)
	}
	return podConfig{w: w, c: c, pod: pod, cfg: cfg}, nil
}

// mountedFile returns the content of file as the container sees it: the
// key of a ConfigMap volume mounted at the file's directory.
func mountedFile(m *manifests, w workload, c corev1.Container, file string) (string, error) {
	for _, vm := range c.VolumeMounts {
		if vm.MountPath != path.Dir(file) {
			continue
		}
		for _, v := range w.template.Spec.Volumes {
			if v.Name != vm.Name || v.ConfigMap == nil {
				continue
			}
			for _, cm := range m.configMaps {
				if cm.Name == v.ConfigMap.Name {
					data, ok := cm.Data[path.Base(file)]
					if !ok {
						return "", fmt.Errorf("ConfigMap %s has no key %s", cm.Name, path.Base(file))
					}
					return data, nil
				}
			}
			return "", fmt.Errorf("ConfigMap %s is not in the base", v.ConfigMap.Name)
		}
	}
	return "", fmt.Errorf("--config %s: no ConfigMap volume is mounted at %s", file, path.Dir(file))
}

// checkConfigs loads every container's configuration and checks that it
// agrees with the manifests: listening ports with containerPorts, the data
// directory with a writable mount, advertised addresses with the headless
// services, and the meta endpoints with the meta pods.
func checkConfigs(m *manifests, dir string) []error {
	var errs []error
	byTier := map[string][]podConfig{}
	for _, w := range m.workloads() {
		for _, c := range w.template.Spec.Containers {
			pc, err := loadConfig(m, w, c, dir)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s container %s: %w", w.kind, w.name, c.Name, err))
				continue
			}
			byTier[c.Name] = append(byTier[c.Name], pc)
		}
	}
	if len(byTier["meta"]) != 1 || len(byTier["storage"]) != 1 || len(byTier["router"]) != 1 {
		return append(errs, fmt.Errorf("want one meta, one storage and one router container, have %d, %d and %d",
			len(byTier["meta"]), len(byTier["storage"]), len(byTier["router"])))
	}
	meta := byTier["meta"][0]
	var metaEndpoints []string
	for i := range meta.w.replicas {
		host := fmt.Sprintf("%s-%d.%s.%s.svc", meta.w.name, i, meta.w.service, namespace)
		metaEndpoints = append(metaEndpoints, "http://"+host+":"+strconv.Itoa(meta.cfg.Meta.ClientPort))
	}
	for tier, pcs := range byTier {
		pc := pcs[0]
		add := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s %s container %s: "+format, append([]any{pc.w.kind, pc.w.name, pc.c.Name}, args...)...))
		}
		if !strings.HasPrefix(pc.c.Image, "shoal-"+tier+":") {
			add("image %s, want shoal-%s:<tag>", pc.c.Image, tier)
		}
		want := map[string]int{}
		switch tier {
		case "meta":
			uri, err := advertised(pc, pc.cfg.Node.URI)
			if err != nil {
				add("%v", err)
				continue
			}
			boot, err := url.Parse(pc.cfg.Node.Bootstrap)
			if err != nil || boot.Host != fmt.Sprintf("%s-0.%s.%s.svc:%s", pc.w.name, pc.w.service, namespace, uri.Port()) {
				add("--bootstrap %q: want pod 0's peer URL, which pod 0 then recognizes as its own", pc.cfg.Node.Bootstrap)
			}
			if pc.cfg.Node.Name != pc.pod {
				add("member name %q, want the pod name %s", pc.cfg.Node.Name, pc.pod)
			}
			peer, _ := strconv.Atoi(uri.Port())
			natsCluster := pc.cfg.Meta.NATSClusterPort
			if natsCluster == 0 {
				natsCluster = pc.cfg.Meta.NATSPort + 2000
			}
			want = map[string]int{"peer": peer, "client": pc.cfg.Meta.ClientPort, "api": pc.cfg.Meta.APIPort, "nats": pc.cfg.Meta.NATSPort, "nats-cluster": natsCluster}
		case "storage":
			uri, err := advertised(pc, pc.cfg.Node.URI)
			if err != nil {
				add("%v", err)
				continue
			}
			p2p, _ := strconv.Atoi(uri.Port())
			want = map[string]int{"p2p": p2p}
		case "router":
			want = map[string]int{"http": pc.cfg.Service.HTTPPort, "grpc": pc.cfg.Service.GRPCPort}
		default:
			add("not a Shoal tier")
			continue
		}
		if tier != "meta" && !slices.Equal(pc.cfg.Meta.Endpoints, metaEndpoints) {
			add("meta endpoints %v, want every meta pod's client URL %v", pc.cfg.Meta.Endpoints, metaEndpoints)
		}
		got := map[string]int{}
		for _, p := range pc.c.Ports {
			got[p.Name] = int(p.ContainerPort)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			add("containerPorts %v, but the configuration listens on %v", got, want)
		}
		writable := false
		for _, vm := range pc.c.VolumeMounts {
			writable = writable || (vm.MountPath == pc.cfg.Storage.StoragePath && !vm.ReadOnly)
		}
		if !writable {
			add("storage_path %s is not a writable volume mount (the root file system is read-only)", pc.cfg.Storage.StoragePath)
		}
	}
	return errs
}

// advertised parses a node URI and checks that it is the pod's stable name
// under its StatefulSet's headless service, with a port.
func advertised(pc podConfig, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Port() == "" {
		return nil, fmt.Errorf("node.uri %q: want http://host:port", raw)
	}
	if want := fmt.Sprintf("%s.%s.%s.svc", pc.pod, pc.w.service, namespace); u.Hostname() != want {
		return nil, fmt.Errorf("node.uri %q: want the pod's DNS name %s", raw, want)
	}
	return u, nil
}

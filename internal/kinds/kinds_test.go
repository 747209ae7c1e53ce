package kinds

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTableIsConsistent: names are unique, the first group is APIVersion's, resources are plurals,
// and only pod kinds have a pod template.
func TestTableIsConsistent(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range table {
		require.False(t, seen[k.Name], "%s is listed twice", k.Name)
		seen[k.Name] = true
		group, _, ok := strings.Cut(k.APIVersion, "/")
		if !ok {
			group = ""
		}
		require.Equal(t, group, k.Group(), "%s: the first group is APIVersion's", k.Name)
		require.Equal(t, strings.ToLower(k.Name)+"s", k.Resource, "%s: the resource is the plural of every kind listed", k.Name)
		if len(k.Template) > 0 {
			require.True(t, k.Pod, "%s has a template but no pod", k.Name)
		}
	}
}

func TestAccessors(t *testing.T) {
	require.Equal(t, []string{"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob"}, Pods())
	require.True(t, IsPodController("CronJob"))
	require.False(t, IsPodController("Pod"))
	require.False(t, IsPodController("ConfigMap"))
	require.False(t, IsPodController("Unknown"))
	require.Equal(t, "clusterrolebindings", Resource("ClusterRoleBinding"))
	require.Empty(t, Resource("Unknown"))

	d, ok := Lookup("Deployment")
	require.True(t, ok)
	require.True(t, d.Served("extensions"))
	require.False(t, d.Served("batch"))
	d.Template[0] = "changed"
	again, _ := Lookup("Deployment")
	require.Equal(t, []string{"spec", "template"}, again.Template, "Lookup returns a copy")
	_, ok = Lookup("Unknown")
	require.False(t, ok)
}

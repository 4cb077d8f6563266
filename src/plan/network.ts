// Facts about a node's network that the plan and every emitter share.

/**
 * The stable name the node's LAN interface gets on every OS family: the NoCloud network-config
 * (src/emit/netplan.ts) matches the NIC by MAC and renames it to this, so plan-level configuration can
 * name it (kube-vip's vip_interface, Calico's IP_AUTODETECTION_METHOD=interface=lan0). `lan0` stays out of
 * the kernel's eth* namespace, so the rename never races a kernel-assigned name.
 */
export const LAN_INTERFACE = 'lan0';

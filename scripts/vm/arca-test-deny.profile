# AppArmor profile of the VM tests (v2-tests.sh): everything allowed but writes under /tmp.
profile arca-test-deny flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  mount,
  remount,
  umount,
  pivot_root,
  ptrace,
  signal,
  unix,
  deny /tmp/** w,
}

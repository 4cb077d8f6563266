// The installer's real Debian packages (linux-image-<version>-amd64, busybox-static) for the LAN-boot tests, fetched
// with apt-get download into the same cache `mkimage pxe build` uses (about 75 MB the first time, then reused).

import { join } from 'node:path';
import { cacheRoot } from '../../src/fetch/cache.js';
import { installerVersions, unpackInstallerPackages, type InstallerPackages } from '../../src/pxe/installer.js';

export const pxeCache = (): string => join(cacheRoot(), 'pxe');

export async function installerPackages(): Promise<InstallerPackages> {
  return unpackInstallerPackages(pxeCache(), await installerVersions());
}

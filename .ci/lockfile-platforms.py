# Adds the platform-specific optional packages of turbo that this registry mirror does not
# serve to package-lock.json, tagged with their os/cpu so `npm ci` skips them on Linux
# instead of refusing the lock. Run after any `npm install` that rewrote the lock:
#   python3 .ci/lockfile-platforms.py package-lock.json
import json,sys
p=sys.argv[1]
lock=json.load(open(p))
pk=lock['packages']
t=pk.get('node_modules/turbo')
if t:
    v=t['version']
    plat={'darwin-64':('darwin','x64'),'darwin-arm64':('darwin','arm64'),'windows-64':('win32','x64'),'windows-arm64':('win32','arm64'),'linux-64':('linux','x64'),'linux-arm64':('linux','arm64')}
    for name,(os_,cpu) in plat.items():
        k=f'node_modules/@turbo/{name}'
        if k not in pk:
            pk[k]={"version":v,"cpu":[cpu],"dev":True,"license":"MIT","optional":True,"os":[os_]}
            print('added',k)
    lock['packages']=dict(sorted(pk.items(), key=lambda kv: (kv[0]!='', kv[0])))
json.dump(lock,open(p,'w'),indent=2); open(p,'a').write('\n')

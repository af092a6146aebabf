# CPU time per process between two snapshots of /proc, grouped by name; the
# waited-for children of the script (argv[3], its pid) are the bench client.
#   cpusnap.py save FILE PID / cpusnap.py diff FILE PID
import os,sys,json
out={}
for p in os.listdir('/proc'):
    if not p.isdigit(): continue
    try:
        st=open(f'/proc/{p}/stat').read()
        cmd=open(f'/proc/{p}/cmdline').read().replace('\0',' ')
    except OSError: continue  # the process ended between listing and reading
    r=st.rsplit(')',1)[1].split()
    ut,stt=int(r[11]),int(r[12])
    if p==sys.argv[3]:  # the script: its waited-for children (the bench client)
        out['children']=('bench client',int(r[13]),int(r[14]))
    name=st.split('(')[1].split(')')[0]
    if 'signet' in cmd:
        parts=cmd.split()
        name='signet '+(parts[1] if len(parts)>1 else '')
    out[p]=(name,ut,stt)
cpu=[int(x) for x in open('/proc/stat').readline().split()[1:]]
out['machine']=('machine',cpu[0]+cpu[1],cpu[2]+cpu[5]+cpu[6],cpu[3]+cpu[4])
if sys.argv[1]=='save':
    json.dump(out,open(sys.argv[2],'w'))
else:
    a=json.load(open(sys.argv[2]))
    agg={}
    m0,m1=a.pop('machine'),out.pop('machine')
    print(f'machine: user {(m1[1]-m0[1])/100:.2f}s sys+irq {(m1[2]-m0[2])/100:.2f}s idle {(m1[3]-m0[3])/100:.2f}s')
    for p,(n,u,s) in out.items():
        u0,s0=(a[p][1],a[p][2]) if p in a else (0,0)
        d=agg.setdefault(n,[0,0]); d[0]+=u-u0; d[1]+=s-s0
    tot=0
    for n,(u,s) in sorted(agg.items(), key=lambda x:-(x[1][0]+x[1][1])):
        if u+s==0: continue
        tot+=u+s
        print(f'{n:28s} user {u/100:7.2f}s sys {s/100:7.2f}s')
    print('total', tot/100)

// The volume viewer's script. It reads #volume-data (see viewer.cpp) and keeps one state: case,
// record (plane), class, slice, overlay on/off, alpha. Every text it shows goes through
// textContent, never innerHTML, so labels and paths from records cannot become markup.
//
// For tests and links the state is mirrored on <body data-case data-plane data-class
// data-slice> (slice counted from 0, like the files and peak_slice), and the address's fragment
// may set the start: #case=ID&plane=P&class=N&slice=K. The viewer preloads the current
// record's slices and heat maps, so the slider scrubs without flicker, and counts the distinct
// pictures that loaded or failed in <body data-viewer-loaded/-failed>.
#include "report/page.hpp"

namespace camkit::report {

const char* const kViewerScript = R"js(
(function(){
var data=JSON.parse(document.getElementById('volume-data').textContent),cases=data.cases;
var body=document.body;
function $(id){return document.getElementById(id);}
var caseSel=$('case-select'),planeSel=$('plane-select'),classSel=$('class-select'),
slider=$('slice-slider'),label=$('slice-label'),toggle=$('overlay-toggle'),alpha=$('alpha-slider'),
sliceImg=$('slice-image'),camImg=$('cam-image'),missing=$('slice-missing'),strip=$('peak-strip'),
camNote=$('cam-note');
var st={c:0,r:0,x:0,k:0},seen={},nLoaded=0,nFailed=0,cache=[];
function rec(){return cases[st.c].records[st.r];}
function cls(){var r=rec();return r&&r.classes[st.x]||null;}
function num(v,d){return typeof v==='number'&&isFinite(v)?v.toFixed(d):'n/a';}
function el(tag,text,cl){var e=document.createElement(tag);
if(text!==undefined)e.textContent=text;if(cl)e.className=cl;return e;}
function option(value,text){var o=el('option',text);o.value=value;return o;}

function counted(url,ok){if(!url||url in seen)return;seen[url]=ok;
if(ok)nLoaded++;else nFailed++;
body.setAttribute('data-viewer-loaded',nLoaded);body.setAttribute('data-viewer-failed',nFailed);}
/* Keeping the Image objects alive keeps them in the memory cache while scrubbing. */
function preload(urls){cache=[];urls.forEach(function(u){if(!u)return;var im=new Image();
im.onload=function(){counted(u,true);};im.onerror=function(){counted(u,false);};
im.src=u;cache.push(im);});}
sliceImg.addEventListener('load',function(){sliceImg.classList.remove('broken');
counted(sliceImg.getAttribute('src'),true);});
sliceImg.addEventListener('error',function(){sliceImg.classList.add('broken');
counted(sliceImg.getAttribute('src'),false);});
camImg.addEventListener('load',function(){counted(camImg.getAttribute('src'),true);});
camImg.addEventListener('error',function(){counted(camImg.getAttribute('src'),false);});

function fillPlanes(){var rs=cases[st.c].records;planeSel.textContent='';
rs.forEach(function(r,i){planeSel.appendChild(option(i,r.view));});
/* A case seen in one plane only has nothing to choose. */
$('plane-field').classList.toggle('off',rs.length<2);}
function fillClasses(){var r=rec();classSel.textContent='';
r.classes.forEach(function(c,i){classSel.appendChild(option(i,c.label+' #'+c['class']+
' \u00b7 '+num(c.score,3)));});classSel.disabled=r.classes.length<2;}

function meta(){var r=rec();$('record-title').textContent=cases[st.c].id+
(r.view?' \u00b7 '+r.view:'');var m=$('record-meta');m.textContent='';
var lines=[r.name+'.json',r.input,r.slices+' slices of '+r.width+'\u00d7'+r.height+
(r.mode?' \u00b7 '+r.mode:''),r.model+(r.method?' \u00b7 '+r.method:'')];
if(r.decision!==null&&r.predictions.length)lines.push('decision: '+r.decision+' \u00b7 p = '+
num(r.predictions[0].score,3));
if(r.true_label||r.true_class!==null)lines.push('true: '+(r.true_label||'')+
(r.true_class!==null?' #'+r.true_class:''));
lines.forEach(function(t){if(t)m.appendChild(el('span',t,'meta'));});
var tb=$('predictions').tBodies[0];tb.textContent='';var c=cls();
r.predictions.forEach(function(p){var tr=el('tr');
if(c&&p['class']===c['class'])tr.className='sel';
tr.appendChild(el('td',p.label));tr.appendChild(el('td',String(p['class']),'num'));
tr.appendChild(el('td',num(p.score,3),'num'));tr.appendChild(el('td',num(p.logit,3),'num'));
tb.appendChild(tr);});}

/* Bar heights from 0 (or the lowest peak, if below 0) to the highest peak of this class; the
display maps share one scale over the volume, so the bars compare like the colours do. */
function fillStrip(){strip.textContent='';var c=cls(),S=rec().slices,p=c?c.peaks:[];
var fin=p.filter(function(v){return typeof v==='number'&&isFinite(v);});
var lo=Math.min.apply(null,[0].concat(fin)),hi=Math.max.apply(null,[0].concat(fin));
for(var k=0;k<S;k++){var b=el('span'),i=el('i'),v=p[k];b.setAttribute('data-k',k);
var h=typeof v==='number'&&isFinite(v)&&hi>lo?(v-lo)/(hi-lo):0;i.style.height=(100*h)+'%';
b.title='slice '+(k+1)+(p.length?': peak '+num(v,3):'');
if(c&&k===c.peak)b.classList.add('peak');b.appendChild(i);strip.appendChild(b);}
strip.style.display=p.length?'':'none';
strip.style.gap=S>120?'0':'1px';}  /* gaps would leave no width to the bars of a long CT */

function show(){var r=rec(),c=cls(),S=r.slices,k=st.k;
slider.max=S-1;slider.value=k;label.textContent=(k+1)+' / '+S;
label.title='slice index '+k+' (files count from 0)';
var src=r.images[k]||'';
if(src){missing.hidden=true;sliceImg.style.display='';
if(sliceImg.getAttribute('src')!==src)sliceImg.src=src;}
else{sliceImg.removeAttribute('src');sliceImg.style.display='none';missing.hidden=false;
missing.textContent=r.image_names.length?'slice picture not found: '+r.image_names[k]:
'this record has no slice pictures (explain ran without them)';}
/* Without a slice picture the stage keeps the slice's shape for the placeholder. */
$('stage').style.aspectRatio=src?'':r.width+'/'+r.height;
var cam=c&&c.cams[k]||'';camNote.textContent='';
if(cam&&toggle.checked){if(camImg.getAttribute('src')!==cam)camImg.src=cam;
camImg.style.display='';}else{camImg.style.display='none';}
if(!cam&&c)camNote.textContent=c.cam_names.length?'heat map not found: '+c.cam_names[k]:
'this record has no heat-map pictures';
camImg.style.opacity=alpha.value;$('alpha-label').textContent=(+alpha.value).toFixed(2);
var bars=strip.children;for(var i=0;i<bars.length;i++)bars[i].classList.toggle('cur',i===k);
body.setAttribute('data-case',cases[st.c].id);body.setAttribute('data-plane',r.view);
body.setAttribute('data-class',c?c['class']:'');body.setAttribute('data-slice',k);}

function setSlice(k){var S=rec().slices;st.k=Math.max(0,Math.min(S-1,k|0));show();}
function setClass(x,keepSlice){st.x=x;classSel.value=x;var c=cls();
preload(c?c.cams:[]);fillStrip();meta();
if(!keepSlice)st.k=c?c.peak:0;setSlice(st.k);}
/* Another plane of the same case keeps the class if that plane explains it too. */
function setRecord(j,before){if(before===undefined)before=cls();st.r=j;planeSel.value=j;
fillClasses();var x=0;
rec().classes.forEach(function(c,i){if(before&&c['class']===before['class'])x=i;});
preload(rec().images);setClass(x,false);}
/* The class is looked up before st.r may point past the new case's records. */
function setCase(i){var before=cls();st.c=i;st.r=0;caseSel.value=i;fillPlanes();
setRecord(0,before);}

caseSel.addEventListener('change',function(){setCase(+caseSel.value);});
planeSel.addEventListener('change',function(){setRecord(+planeSel.value);});
classSel.addEventListener('change',function(){setClass(+classSel.value,true);});
slider.addEventListener('input',function(){setSlice(+slider.value);});
toggle.addEventListener('change',show);
alpha.addEventListener('input',show);
$('prev-slice').addEventListener('click',function(){setSlice(st.k-1);});
$('next-slice').addEventListener('click',function(){setSlice(st.k+1);});
$('peak-button').addEventListener('click',function(){var c=cls();if(c)setSlice(c.peak);});
strip.addEventListener('click',function(e){var b=e.target.closest('[data-k]');
if(b)setSlice(+b.getAttribute('data-k'));});
document.addEventListener('keydown',function(e){
if(e.ctrlKey||e.altKey||e.metaKey||e.defaultPrevented)return;
/* Form fields keep their keys: sliders step themselves, selects and the filter need arrows. */
var t=e.target,tag=t.tagName;if(tag==='SELECT'||tag==='TEXTAREA'||
(tag==='INPUT'&&t.type!=='checkbox'))return;
var step=e.shiftKey?5:1,k=st.k,c=cls();
switch(e.key){case 'ArrowRight':k+=step;break;case 'ArrowLeft':k-=step;break;
case 'Home':k=0;break;case 'End':k=rec().slices-1;break;
case 'p':case 'P':if(c)k=c.peak;break;
case 'o':case 'O':toggle.checked=!toggle.checked;show();e.preventDefault();return;
default:return;}
e.preventDefault();setSlice(k);});

var want={};location.hash.slice(1).split('&').forEach(function(kv){var i=kv.indexOf('=');
if(i>0)want[kv.slice(0,i)]=decodeURIComponent(kv.slice(i+1));});
var c0=0;cases.forEach(function(c,i){if(c.id===want['case'])c0=i;});setCase(c0);
if('plane' in want)cases[c0].records.forEach(function(r,j){if(r.view===want.plane)setRecord(j);});
if('class' in want)rec().classes.forEach(function(c,i){if(String(c['class'])===want['class'])
setClass(i,false);});
if('slice' in want&&/^\d+$/.test(want.slice))setSlice(+want.slice);
body.setAttribute('data-viewer-ready','1');
})();
)js";

}  // namespace camkit::report

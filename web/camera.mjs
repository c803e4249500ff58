// The camera as an input: getUserMedia into a <video>. Needs a secure
// context (localhost counts) and the user's permission; headless browsers
// have no camera, which the page reports instead of failing.

export async function startCamera(video) {
  if (!navigator.mediaDevices?.getUserMedia) throw new Error('this browser has no camera API here (it needs https or localhost)');
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: 'environment', width: { ideal: 640 }, height: { ideal: 480 } }, audio: false,
  });
  video.srcObject = stream;
  await video.play();
  return () => {
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
}

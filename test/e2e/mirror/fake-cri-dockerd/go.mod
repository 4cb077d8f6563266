module mkimage.invalid/fake-cri-dockerd

go 1.19
